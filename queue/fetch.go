package queue

import (
	"strconv"
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
	// msgs carries every lane's deliveries straight from the connection's
	// read loop to the dispatcher: no goroutine of the subscription's
	// own in between. Its capacity covers everything that can be owed at
	// once (see newPuller); were it ever full, the client would drop the
	// delivery and the job would come back after its lease.
	msgs  chan *nats.Msg
	stray lane // stands for retired lanes: it never has a request
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
	sub      *subQueue // at a fair level, the key asked; nil otherwise
	subGen   uint64    // its mark generation when sent
}

type arrival struct {
	lane *lane
	m    *nats.Msg
}

// pullLanes is how many requests a worker keeps open at most: enough to
// cover a round trip while earlier answers are being handled.
const pullLanes = 4

// newPuller opens lanes inboxes for a worker running at most concurrency
// jobs. Jobs owed never exceed concurrency, but answers to retired lanes
// may still be on their way, and each request ends with a status: twice
// concurrency plus room for statuses bounds what can wait in msgs.
func newPuller(nc *nats.Conn, lanes, concurrency int) (*puller, error) {
	p := &puller{nc: nc, msgs: make(chan *nats.Msg, 2*concurrency+8*pullLanes)}
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
	sub, err := p.nc.ChanSubscribe(inbox, p.msgs)
	if err != nil {
		return err
	}
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

// arrival pairs m with the lane it answers; a message for a retired lane
// gets the stray lane, which has no request.
func (p *puller) arrival(m *nats.Msg) arrival {
	for _, l := range p.lanes {
		if l.sub == m.Sub {
			return arrival{l, m}
		}
	}
	return arrival{&p.stray, m}
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
// taken. Once Unsubscribe returns the client sends nothing more to msgs.
func (p *puller) close() {
	for _, l := range p.lanes {
		if l.sub != nil {
			_ = l.sub.Unsubscribe()
		}
	}
	for {
		select {
		case m := <-p.msgs:
			if m.Reply != "" {
				_ = m.Nak()
			}
		default:
			return
		}
	}
}
