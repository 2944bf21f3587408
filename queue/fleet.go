package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Fleet-wide concurrency (Config.FleetConcurrency = N) rests on a stream
// of N token messages (CRQ_<name>_tokens, one subject per token) and a
// durable pull consumer of it. A worker holds one token per job it runs:
// it asks the token consumer for as many tokens as it has free slots, asks
// the level consumers for at most as many jobs as it holds tokens, and
// gives a token back (a nak, so the next request waiting for one gets it
// at once) when its job's handler returns. The server hands each token to
// one request at a time, so at most N jobs run at once across every worker
// of every instance, and requests waiting for tokens are served in turn.
// A token lives under the consumer's AckWait like a job (the worker
// heartbeats the tokens of running jobs), so the tokens of a worker that
// died come back with its jobs.
//
// Costs, only for queues with the setting: a token request (a round trip,
// waited for on the server while all tokens are taken) before a worker's
// job requests, and a nak per job. A stopping worker gives its tokens
// back; a token asked for by a request the server answers after the
// worker stopped waits out AckWait.

// tokenWait is how long a token request waits on the server for a token.
const tokenWait = time.Second

// pool is one kind of fleet token: its stream (with one subject per
// token, <prefix>.<i>), how many tokens there are, and how long a job
// spends one: 0 for a concurrency token, held while the handler runs; the
// refill period for a rate token, spent when the job starts and back that
// long after.
type pool struct {
	stream, prefix, what string
	n                    int
	spend                time.Duration
}

// pools are queue name's kinds of fleet tokens with cfg; each absent one
// has n 0.
func pools(name string, cfg Config) []pool {
	p := []pool{
		{stream: "CRQ_" + name + "_tokens", prefix: "cloudrole.token." + name, what: "job that may run at once", n: cfg.FleetConcurrency},
		{stream: "CRQ_" + name + "_rate", prefix: "cloudrole.rate." + name, what: "job that may start per refill period", n: cfg.FleetRateBurst},
	}
	if cfg.FleetRateLimit > 0 {
		p[1].spend = time.Duration(float64(cfg.FleetRateBurst) / cfg.FleetRateLimit * float64(time.Second))
	} else {
		p[1].n = 0
	}
	return p
}

func tokenStream(q string) string { return pools(q, Config{})[0].stream }
func rateStream(q string) string  { return pools(q, Config{})[1].stream }

func (p pool) subject(i int) string { return p.prefix + "." + strconv.Itoa(i) }
func (p pool) subjects() string     { return p.prefix + ".*" }

func (p pool) streamConfig(name string, cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              p.stream,
		Description:       fmt.Sprintf("cloudrole queue %s: one message per %s across the fleet", name, p.what),
		Subjects:          []string{p.subjects()},
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		MaxMsgsPerSubject: 1,
	}
}

func (p pool) consumerConfig(name string, cfg Config) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       p.stream,
		Description:   "cloudrole queue " + name + ": tokens, one per " + p.what,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: -1,
		Replicas:      cfg.Replicas,
	}
}

// buildTokens makes, for each kind of fleet token the queue has, its
// stream, its consumer and exactly that many tokens; a kind the queue has
// not is removed on UpdateQueue and left alone otherwise.
func (c *Client) buildTokens(ctx context.Context, name string, cfg Config, change bool) error {
	for _, p := range pools(name, cfg) {
		if err := c.buildPool(ctx, name, cfg, p, change); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) buildPool(ctx context.Context, name string, cfg Config, p pool, change bool) error {
	if p.n == 0 {
		if !change {
			return nil
		}
		err := provision(ctx, func(ctx context.Context) error {
			err := c.js.DeleteStream(ctx, p.stream)
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("queue %q: deleting token stream %s: %w", name, p.stream, err)
		}
		return nil
	}
	var s jetstream.Stream
	err := provision(ctx, func(ctx context.Context) (err error) {
		if change {
			s, err = ensureStream(ctx, c.js, p.streamConfig(name, cfg))
		} else {
			s, err = createOrBindStream(ctx, c.js, p.streamConfig(name, cfg))
		}
		if err != nil {
			return err
		}
		if change {
			_, err = c.js.CreateOrUpdateConsumer(ctx, p.stream, p.consumerConfig(name, cfg))
		} else {
			_, err = createOrBindConsumer(ctx, c.js, p.stream, p.consumerConfig(name, cfg))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("queue %q: token stream %s: %w", name, p.stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(p.subjects()))
	if err != nil {
		return fmt.Errorf("queue %q: token stream %s: %w", name, p.stream, err)
	}
	if p.tokensAre(info.State.Subjects) {
		return nil // the usual case: every token there
	}
	for subj := range info.State.Subjects {
		if i, ok := p.index(subj); !ok || i >= p.n {
			// Fewer tokens: a held one's holder finds it gone when it
			// gives it back, and nobody gets it again.
			if _, err := c.purge(ctx, p.stream, subj); err != nil {
				return fmt.Errorf("queue %q: removing token %s: %w", name, subj, err)
			}
		}
	}
	for i := range p.n {
		if _, ok := info.State.Subjects[p.subject(i)]; ok {
			continue
		}
		// Stored only where no token is: two instances declaring at
		// once make one token, not two.
		_, err := c.js.PublishMsg(ctx, &nats.Msg{Subject: p.subject(i)}, jetstream.WithExpectLastSequencePerSubject(0))
		if err != nil && !isRevisionConflict(err) {
			return fmt.Errorf("queue %q: storing token %s: %w", name, p.subject(i), err)
		}
	}
	return nil
}

// index returns the number of token subject subj.
func (p pool) index(subj string) (int, bool) {
	if len(subj) <= len(p.prefix)+1 || subj[:len(p.prefix)+1] != p.prefix+"." {
		return 0, false
	}
	i, err := strconv.Atoi(subj[len(p.prefix)+1:])
	return i, err == nil && i >= 0
}

// tokensAre reports whether subjects are exactly tokens 0..n-1.
func (p pool) tokensAre(subjects map[string]uint64) bool {
	if len(subjects) != p.n {
		return false
	}
	for i := range p.n {
		if subjects[p.subject(i)] != 1 {
			return false
		}
	}
	return true
}

// tokens is a worker's side of the fleet's tokens: the ones it holds and
// has not given to a job yet (spare), and its open request for more.
// Dispatcher-owned, but for msgs, which the connection fills.
type tokens struct {
	nc       *nats.Conn
	spend    time.Duration // see pool
	subject  string        // the consumer's next-message API subject
	inbox    string
	sub      *nats.Subscription
	msgs     chan *nats.Msg
	spare    []*nats.Msg
	open     bool // a request is open
	asked    int  // tokens it asked for and has not brought
	deadline time.Time
}

// newTokens makes a worker's side of pool p; its tokens arrive on msgs,
// shared by the worker's pools.
func newTokens(nc *nats.Conn, p pool, msgs chan *nats.Msg) (*tokens, error) {
	t := &tokens{
		nc:      nc,
		spend:   p.spend,
		subject: "$JS.API.CONSUMER.MSG.NEXT." + p.stream + "." + p.stream,
		inbox:   nc.NewInbox(),
		msgs:    msgs,
	}
	sub, err := nc.ChanSubscribe(t.inbox, t.msgs)
	if err != nil {
		return nil, err
	}
	t.sub = sub
	return t, nil
}

// ask requests up to n tokens, waiting on the server up to tokenWait.
func (t *tokens) ask(n int) error {
	req := make([]byte, 0, 64)
	req = append(req, `{"batch":`...)
	req = strconv.AppendInt(req, int64(n), 10)
	req = append(req, `,"expires":`...)
	req = strconv.AppendInt(req, int64(tokenWait), 10)
	req = append(req, '}')
	if err := t.nc.PublishRequest(t.subject, t.inbox, req); err != nil {
		return err
	}
	t.open, t.asked, t.deadline = true, n, time.Now().Add(tokenWait+pullTimeout)
	return nil
}

// arrive handles a token or the status that ends the open request.
func (t *tokens) arrive(m *nats.Msg) {
	if m.Reply != "" {
		t.spare = append(t.spare, m)
		if t.asked--; t.asked <= 0 {
			t.open, t.asked = false, 0
		}
		return
	}
	if m.Header.Get("Status") == "100" {
		return
	}
	t.open, t.asked = false, 0
}

// take returns a spare token for a job about to start, or nil.
func (t *tokens) take() *nats.Msg {
	if len(t.spare) == 0 {
		return nil
	}
	m := t.spare[len(t.spare)-1]
	t.spare = t.spare[:len(t.spare)-1]
	return m
}

// releaseSpare gives every spare token back.
func (t *tokens) releaseSpare() {
	for _, m := range t.spare {
		_ = m.Nak()
	}
	clear(t.spare)
	t.spare = t.spare[:0]
}

// close gives the spare tokens back and stops the subscription.
func (t *tokens) close() {
	t.releaseSpare()
	_ = t.sub.Unsubscribe()
}

// spent hands a token to a job about to start: a concurrency token is
// returned for the job to hold, a rate token is given back at once with
// the refill period as its delay, and nil returned.
func (t *tokens) spent(m *nats.Msg) *nats.Msg {
	if t.spend == 0 {
		return m
	}
	_ = m.NakWithDelay(t.spend)
	return nil
}

// releaseToken gives a job's token back when its handler has returned.
func releaseToken(tok *nats.Msg) {
	if tok != nil {
		_ = tok.Nak()
	}
}

// fleetTokens are a worker's pools of fleet tokens (none, one or two),
// with the channel all their tokens arrive on.
type fleetTokens struct {
	pools []*tokens
	msgs  chan *nats.Msg
}

func newFleetTokens(nc *nats.Conn, name string, cfg Config, concurrency int) (*fleetTokens, error) {
	ft := &fleetTokens{msgs: make(chan *nats.Msg, 4*concurrency+16)}
	for _, p := range pools(name, cfg) {
		if p.n == 0 {
			continue
		}
		t, err := newTokens(nc, p, ft.msgs)
		if err != nil {
			ft.close()
			return nil, err
		}
		ft.pools = append(ft.pools, t)
	}
	if len(ft.pools) == 0 {
		return nil, nil
	}
	return ft, nil
}

// arrive routes m to the pool whose inbox it came to.
func (ft *fleetTokens) arrive(m *nats.Msg) {
	for _, t := range ft.pools {
		if m.Sub == t.sub {
			t.arrive(m)
			return
		}
	}
	if m.Reply != "" {
		_ = m.Nak() // for a pool closed meanwhile
	}
}

// avail is the fewest spare tokens, less credit, of any pool.
func (ft *fleetTokens) avail(credit int) int {
	n := int(^uint(0) >> 1)
	for _, t := range ft.pools {
		n = min(n, len(t.spare)-credit)
	}
	return n
}

// take takes one token of each pool for a job about to start: it returns
// the concurrency token the job holds (or nil), and false, with nothing
// taken, if a pool has none spare.
func (ft *fleetTokens) take() (*nats.Msg, bool) {
	for _, t := range ft.pools {
		if len(t.spare) == 0 {
			return nil, false
		}
	}
	var held *nats.Msg
	for _, t := range ft.pools {
		if m := t.spent(t.take()); m != nil {
			held = m
		}
	}
	return held, true
}

func (ft *fleetTokens) releaseSpare() {
	for _, t := range ft.pools {
		t.releaseSpare()
	}
}

func (ft *fleetTokens) close() {
	for _, t := range ft.pools {
		t.close()
	}
	for {
		select {
		case m := <-ft.msgs:
			if m.Reply != "" {
				_ = m.Nak()
			}
		default:
			return
		}
	}
}
