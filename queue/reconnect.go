package queue

import "sync/atomic"

// reconnects tells workers that the connection came back after an outage.
// Pull requests open when it dropped died with it (the server forgot
// them), so a worker re-sends at once instead of waiting out each
// request's timeout (5 s idle after every reconnect, seen on a cluster
// losing a server).
type reconnects struct {
	ch atomic.Pointer[chan struct{}]
}

func newReconnects() *reconnects {
	r := &reconnects{}
	ch := make(chan struct{})
	r.ch.Store(&ch)
	return r
}

// signal returns a channel closed at the next reconnect.
func (r *reconnects) signal() <-chan struct{} { return *r.ch.Load() }

// happened closes the current channel and arms a new one.
func (r *reconnects) happened() {
	ch := make(chan struct{})
	close(*r.ch.Swap(&ch))
}
