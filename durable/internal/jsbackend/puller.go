package jsbackend

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// puller takes one task at a time from the first of several queue
// consumers that has one, as GetWorkflowTask and GetActivityTask must: a
// worker asks for its queues together and waits until any has work.
//
// A call keeps one pull request for a single message open on each of its
// queues' consumers, each on its own lane (an inbox subscription: the
// server puts the stored subject, not the inbox, on a delivery, so only the
// subscription tells which request a delivery answers), renews a request
// that expires, and returns the first delivery. A request outlives the
// call that sent it: the next call for that queue adopts it rather than
// sending another, so the open requests per queue never exceed the calls
// waiting at once, and what one delivers with nobody waiting is kept
// (stashed) for the next call. A janitor releases (naks) stashed messages
// nobody took within maxStash, and forgets lanes whose request the server
// never answered (a reconnect drops open pull requests).
type puller struct {
	nc       *nats.Conn
	stream   string
	consumer func(queue string) string
	maxWait  time.Duration
	maxStash time.Duration

	in      chan *nats.Msg
	closing chan struct{} // closed when close begins: waiting calls return
	stop    chan struct{} // closed when the router should end
	done    chan struct{} // closed when it has
	changed chan struct{} // poked when a request ends, for close

	mu     sync.Mutex
	lanes  map[*nats.Subscription]*lane
	open   map[string][]*lane // lanes with a request open, by queue
	free   []*lane
	stash  map[string][]stashed
	closed bool
	// idle: nobody takes tasks now (the worker stopped); what arrives
	// with no call waiting is handed back at once instead of stashed.
	idle bool
}

type lane struct {
	inbox   string
	sub     *nats.Subscription
	queue   string
	w       *waiter // the call it serves, if any
	busy    bool    // a request is open
	expires time.Time
}

type stashed struct {
	m  *nats.Msg
	at time.Time
}

// waiter is one waiting call. ch gets the message that serves it, or nil
// each time one of its requests ended empty (the call then renews it).
type waiter struct {
	ch   chan *nats.Msg
	done bool // served, or gone
}

func newPuller(nc *nats.Conn, stream string, consumer func(string) string, maxWait, maxStash time.Duration) *puller {
	p := &puller{
		nc: nc, stream: stream, consumer: consumer, maxWait: maxWait, maxStash: maxStash,
		in:      make(chan *nats.Msg, 1024),
		closing: make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}, 1),
		lanes:   map[*nats.Subscription]*lane{},
		open:    map[string][]*lane{},
		stash:   map[string][]stashed{},
	}
	go p.route()
	return p
}

// get returns the next message of any of queues, or nil when none came
// before ctx ended.
func (p *puller) get(ctx context.Context, queues []string) (*nats.Msg, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	if m := p.takeStashLocked(queues); m != nil {
		p.mu.Unlock()
		return m, nil
	}
	p.idle = false
	w := &waiter{ch: make(chan *nats.Msg, len(queues)+1)}
	p.mu.Unlock()
	for {
		wait := p.maxWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl)-5*time.Millisecond)
		}
		if wait < 2*time.Millisecond || ctx.Err() != nil {
			return p.giveUp(w), nil
		}
		sends, err := p.attach(w, queues, wait)
		if err != nil {
			p.giveUp(w)
			return nil, err
		}
		req := []byte(`{"batch":1,"expires":` + strconv.FormatInt(int64(wait), 10) + `}`)
		for _, l := range sends {
			if err := p.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+p.stream+"."+p.consumer(l.queue), l.inbox, req); err != nil {
				p.mu.Lock()
				p.finishLocked(l, nil)
				p.mu.Unlock()
			}
		}
		select {
		case m := <-w.ch:
			if m != nil {
				return m, nil
			}
			// A request ended empty: renew it.
		case <-ctx.Done():
			return p.giveUp(w), nil
		case <-p.closing:
			return p.giveUp(w), nil
		}
	}
}

// attach makes every queue's open request serve w: an open one whose call
// is gone is adopted, otherwise a new request is due, on a lane returned
// for the caller to send.
func (p *puller) attach(w *waiter, queues []string, wait time.Duration) ([]*lane, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.done {
		return nil, nil
	}
	var sends []*lane
	for _, q := range queues {
		var adopt *lane
		for _, l := range p.open[q] {
			if l.w == w {
				adopt = l
				break
			}
			if adopt == nil && (l.w == nil || l.w.done) {
				adopt = l
			}
		}
		if adopt != nil {
			adopt.w = w
			continue
		}
		l, err := p.laneLocked()
		if err != nil {
			return nil, err
		}
		l.queue, l.w, l.busy, l.expires = q, w, true, time.Now().Add(wait+5*time.Second)
		p.open[q] = append(p.open[q], l)
		sends = append(sends, l)
	}
	return sends, nil
}

// giveUp ends w's wait; a message that served it meanwhile is returned.
func (p *puller) giveUp(w *waiter) *nats.Msg {
	p.mu.Lock()
	w.done = true
	p.mu.Unlock()
	for {
		select {
		case m := <-w.ch:
			if m != nil {
				return m
			}
		default:
			return nil
		}
	}
}

// takeStashLocked pops the oldest stashed message of queues.
func (p *puller) takeStashLocked(queues []string) *nats.Msg {
	for _, q := range queues {
		if s := p.stash[q]; len(s) > 0 {
			m := s[0].m
			if len(s) == 1 {
				delete(p.stash, q)
			} else {
				p.stash[q] = s[1:]
			}
			return m
		}
	}
	return nil
}

func (p *puller) laneLocked() (*lane, error) {
	if n := len(p.free); n > 0 {
		l := p.free[n-1]
		p.free = p.free[:n-1]
		return l, nil
	}
	inbox := p.nc.NewInbox()
	sub, err := p.nc.ChanSubscribe(inbox, p.in)
	if err != nil {
		return nil, err
	}
	l := &lane{inbox: inbox, sub: sub}
	p.lanes[sub] = l
	return l, nil
}

// closeLocked takes l out of the open requests.
func (p *puller) closeLocked(l *lane) {
	q := l.queue
	if i := slices.Index(p.open[q], l); i >= 0 {
		p.open[q] = slices.Delete(p.open[q], i, i+1)
		if len(p.open[q]) == 0 {
			delete(p.open, q)
		}
	}
	l.busy = false
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// finishLocked ends l's request, with m delivered or nil, and frees l.
func (p *puller) finishLocked(l *lane, m *nats.Msg) {
	w, q := l.w, l.queue
	p.closeLocked(l)
	l.w = nil
	p.free = append(p.free, l)
	if m != nil {
		if w != nil && !w.done {
			w.done = true
			w.ch <- m
			return
		}
		if p.idle {
			go func() { _ = m.Nak() }()
			return
		}
		p.stash[q] = append(p.stash[q], stashed{m, time.Now()})
		return
	}
	notifyEmpty(w)
}

// release hands back every stashed message and, until the next call, each
// that arrives with no call waiting: the worker has stopped taking tasks,
// and another worker should get them now rather than after their lease.
func (p *puller) release() {
	p.mu.Lock()
	p.idle = true
	var out []*nats.Msg
	for _, s := range p.stash {
		for _, e := range s {
			out = append(out, e.m)
		}
	}
	p.stash = map[string][]stashed{}
	p.mu.Unlock()
	for _, m := range out {
		_ = m.Nak()
	}
}

// notifyEmpty tells a waiting call that one of its requests ended empty.
func notifyEmpty(w *waiter) {
	if w == nil || w.done {
		return
	}
	select {
	case w.ch <- nil:
	default: // it has a wake-up pending already
	}
}

// route hands deliveries to their lane's caller or the stash.
func (p *puller) route() {
	defer close(p.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.janitor()
		case m := <-p.in:
			p.mu.Lock()
			l := p.lanes[m.Sub]
			if l == nil || !l.busy {
				p.mu.Unlock()
				if m.Reply != "" && m.Header.Get("Status") == "" {
					_ = m.Nak()
				}
				continue
			}
			if m.Header.Get("Status") != "" { // 404, 408, 409, 503: no message for this request
				p.finishLocked(l, nil)
			} else {
				p.finishLocked(l, m)
			}
			p.mu.Unlock()
		}
	}
}

func (p *puller) janitor() {
	now := time.Now()
	var release []*nats.Msg
	p.mu.Lock()
	for q, s := range p.stash {
		keep := s[:0]
		for _, e := range s {
			if now.Sub(e.at) > p.maxStash {
				release = append(release, e.m)
			} else {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 {
			delete(p.stash, q)
		} else {
			p.stash[q] = keep
		}
	}
	for sub, l := range p.lanes {
		if l.busy && now.After(l.expires) {
			// Never answered: give the lane up.
			delete(p.lanes, sub)
			_ = sub.Unsubscribe()
			w := l.w
			p.closeLocked(l)
			notifyEmpty(w)
		}
	}
	p.mu.Unlock()
	for _, m := range release {
		_ = m.Nak()
	}
}

// close stops the puller and releases every message it holds. It first
// lets open requests end (they expire within maxWait), releasing what they
// deliver, so no message is left to wait out its lease.
func (p *puller) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.closing)
	deadline := time.NewTimer(p.maxWait + time.Second)
	defer deadline.Stop()
wait:
	for {
		p.mu.Lock()
		busy := len(p.open)
		p.mu.Unlock()
		if busy == 0 {
			break
		}
		select {
		case <-p.changed:
		case <-deadline.C:
			break wait
		}
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	var release []*nats.Msg
	for _, s := range p.stash {
		for _, e := range s {
			release = append(release, e.m)
		}
	}
	p.stash = map[string][]stashed{}
	for sub := range p.lanes {
		_ = sub.Unsubscribe()
	}
	p.lanes, p.open, p.free = map[*nats.Subscription]*lane{}, map[string][]*lane{}, nil
	p.mu.Unlock()
drain:
	for {
		select {
		case m := <-p.in:
			if m.Reply != "" && m.Header.Get("Status") == "" {
				release = append(release, m)
			}
		default:
			break drain
		}
	}
	for _, m := range release {
		_ = m.Nak()
	}
}
