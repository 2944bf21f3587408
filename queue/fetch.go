package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// fetcher pulls jobs from the level consumers with its own pull requests on
// one long-lived inbox, one request at a time. It is used instead of the
// jetstream Fetch helpers because they open a subscription per call and
// cannot send a "no wait, but give late arrivals a moment" request, which a
// worker needs right after being told of a new job: the consumer learns of
// a stored job a moment after the publish is acknowledged.
type fetcher struct {
	nc     *nats.Conn
	prefix string
	sub    *nats.Subscription
	msgs   chan *nats.Msg
	done   chan struct{}
	seq    uint64
}

var errFetchTimeout = errors.New("queue: no answer to a pull request")

func newFetcher(nc *nats.Conn) (*fetcher, error) {
	f := &fetcher{nc: nc, prefix: nc.NewInbox(), msgs: make(chan *nats.Msg, 256), done: make(chan struct{})}
	sub, err := nc.Subscribe(f.prefix+".*", func(m *nats.Msg) {
		select {
		case f.msgs <- m:
		case <-f.done:
			if m.Reply != "" {
				_ = m.Nak() // arrived after the worker stopped: give it back
			}
		}
	})
	if err != nil {
		return nil, err
	}
	// Jobs wait in the stream, not here: at most one request is open.
	_ = sub.SetPendingLimits(-1, -1)
	f.sub = sub
	return f, nil
}

func (f *fetcher) close() {
	close(f.done)
	_ = f.sub.Unsubscribe()
}

// fetch asks the consumer for up to n jobs available now. With wait > 0,
// an empty consumer is given that long for a job to become visible (it
// returns as soon as one does). It returns the jobs received; a stale
// delivery from an abandoned request is handed back at once.
func (f *fetcher) fetch(ctx context.Context, stream, consumer string, n int, wait time.Duration) ([]*nats.Msg, error) {
	f.seq++
	reply := f.prefix + "." + strconv.FormatUint(f.seq, 10)
	req := `{"batch":` + strconv.Itoa(n) + `,"no_wait":true`
	if wait > 0 {
		req += `,"expires":` + strconv.FormatInt(int64(wait), 10)
	}
	req += "}"
	if err := f.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+stream+"."+consumer, reply, []byte(req)); err != nil {
		return nil, err
	}
	t := time.NewTimer(wait + 5*time.Second)
	defer t.Stop()
	var out []*nats.Msg
	for len(out) < n {
		select {
		case m := <-f.msgs:
			if m.Reply == "" { // a status message ends its request
				if m.Subject != reply {
					continue // of an abandoned request
				}
				switch code := m.Header.Get("Status"); code {
				case "100":
					continue
				case "404", "408":
					return out, nil
				default:
					return out, fmt.Errorf("queue: pull request: %s %s", code, m.Header.Get("Description"))
				}
			}
			// Jobs carry their stream subject, not the request's; one
			// from an abandoned request counts toward this one (at most
			// n are taken either way, so the prefetch bound holds).
			out = append(out, m)
		case <-t.C:
			return out, errFetchTimeout
		case <-ctx.Done():
			// Keep waiting for the answer (bounded by the timer): jobs
			// already on their way are ours to run or hand back.
			ctx = context.Background()
		}
	}
	return out, nil
}
