package queue

import (
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// puller sends a worker's pull requests to the level consumers and hands
// back what they answer. It is used instead of the jetstream Consume and
// Fetch helpers because a worker must bound what it holds by its free
// slots (Consume keeps a 500-job buffer), must keep several requests open
// at once to hide the round trip (Fetch waits for one), and needs a "no
// wait, but give late arrivals a moment" request right after being told of
// a new job: the consumer learns of a stored job a moment after the
// publish is acknowledged.
//
// Each request goes out on one of a few lanes, each lane its own inbox
// subscription. The server round-robins deliveries between a consumer's
// open requests and writes each job's own subject on its delivery, so on a
// shared inbox nothing would tell which request a job or a closing status
// answers; per-lane inboxes do, and so the worker knows exactly how many
// jobs it has asked for and not yet received.
type puller struct {
	nc    *nats.Conn
	lanes []*lane
	ready chan struct{} // something arrived

	mu     sync.Mutex
	in     []arrival
	closed bool
}

// lane is one inbox; it carries at most one open request at a time.
type lane struct {
	inbox string
	sub   *nats.Subscription
	req   *pullReq // the open request, or nil (dispatcher-owned)
}

// pullReq is an open pull request.
type pullReq struct {
	level    int
	batch    int       // jobs asked for
	got      int       // jobs received so far
	gen      uint64    // the level's mark generation when sent
	deadline time.Time // treated as lost after this
}

type arrival struct {
	lane *lane
	m    *nats.Msg
}

// pullLanes is how many requests a worker keeps open at most: enough to
// cover a round trip while earlier answers are being handled.
const pullLanes = 4

func newPuller(nc *nats.Conn, lanes int) (*puller, error) {
	p := &puller{nc: nc, ready: make(chan struct{}, 1)}
	for range lanes {
		l := &lane{}
		if err := p.open(l); err != nil {
			p.close()
			return nil, err
		}
		p.lanes = append(p.lanes, l)
	}
	return p, nil
}

// open gives l a fresh inbox and subscription.
func (p *puller) open(l *lane) error {
	inbox := p.nc.NewInbox()
	sub, err := p.nc.Subscribe(inbox, func(m *nats.Msg) { p.arrive(l, m) })
	if err != nil {
		return err
	}
	// Jobs wait in the stream, not here: a lane holds one request's worth.
	_ = sub.SetPendingLimits(-1, -1)
	l.inbox, l.sub, l.req = inbox, sub, nil
	return nil
}

// retire abandons l's request (lost by the server, or unanswered) and
// puts a new lane with a new inbox in its place. Answers that still reach
// the old inbox before its unsubscribe lands belong to no request (the
// dispatcher treats them as strays); later ones find no subscriber, so the
// server drops them and those jobs come back after their lease.
func (p *puller) retire(old *lane) error {
	nl := &lane{}
	if err := p.open(nl); err != nil {
		return err
	}
	for i, l := range p.lanes {
		if l == old {
			p.lanes[i] = nl
		}
	}
	old.req = nil
	_ = old.sub.Unsubscribe()
	return nil
}

func (p *puller) arrive(l *lane, m *nats.Msg) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		if m.Reply != "" {
			_ = m.Nak() // arrived after the worker stopped: give it back
		}
		return
	}
	p.in = append(p.in, arrival{l, m})
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// take returns everything that arrived since the last call; spare is the
// slice the previous call returned, reused.
func (p *puller) take(spare []arrival) []arrival {
	clear(spare)
	p.mu.Lock()
	out := p.in
	p.in = spare[:0]
	p.mu.Unlock()
	return out
}

// idle returns a lane with no open request, or nil.
func (p *puller) idle() *lane {
	for _, l := range p.lanes {
		if l.req == nil {
			return l
		}
	}
	return nil
}

// send asks consumer for up to n jobs available now, answered on l. With
// wait > 0 an empty consumer is given that long for a job to become
// visible (the server answers as soon as one does).
func (p *puller) send(l *lane, stream, consumer string, n int, wait time.Duration) error {
	req := make([]byte, 0, 64)
	req = append(req, `{"batch":`...)
	req = strconv.AppendInt(req, int64(n), 10)
	req = append(req, `,"no_wait":true`...)
	if wait > 0 {
		req = append(req, `,"expires":`...)
		req = strconv.AppendInt(req, int64(wait), 10)
	}
	req = append(req, '}')
	return p.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+stream+"."+consumer, l.inbox, req)
}

// close stops every lane and hands back jobs that arrived but were never
// taken.
func (p *puller) close() {
	p.mu.Lock()
	p.closed = true
	rest := p.in
	p.in = nil
	p.mu.Unlock()
	for _, l := range p.lanes {
		if l.sub != nil {
			_ = l.sub.Unsubscribe()
		}
	}
	for _, a := range rest {
		if a.m.Reply != "" {
			_ = a.m.Nak()
		}
	}
}
