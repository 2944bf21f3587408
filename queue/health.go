package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// On a cluster a queue's streams can lose their leader (its server killed,
// quorum lost) while this process's own connection stays up: nothing is
// enqueued or processed, yet the connection state alone says all is well.
// The stream monitor asks about the open queues' streams in the
// background and keeps its verdict, so Provider.Check, which every
// readiness probe calls, never waits on the network.

const (
	// healthInterval is how often the monitor looks while all is well.
	healthInterval = time.Second
	// healthRetry is how often it looks while it reports a problem, so the
	// recovery shows soon after the election.
	healthRetry = 250 * time.Millisecond
	// healthTimeout bounds one request; an unanswered stream info request
	// means no server leads the stream (a member that is not the leader
	// stays silent unless the whole group is leaderless).
	healthTimeout = time.Second
)

// StreamHealth is what the stream monitor last saw of the open queues'
// streams and consumers; Provider.Status carries it. It is nil for the
// embedded server, whose streams cannot lose their leader while the
// process runs.
type StreamHealth struct {
	// OK is false while some open queue's stream or consumer has no
	// leader; Error then names the first one found and why.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Since is when the current verdict began; CheckedAt the last look.
	Since     time.Time `json:"since,omitzero"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// streamMonitor checks the leaders of the open queues' streams every
// healthInterval until stop. It belongs to a Client, which starts it and
// stops it in close. Safe for concurrent use; a nil *streamMonitor is a
// monitor that never finds anything wrong (the embedded server).
type streamMonitor struct {
	c      *Client
	log    *slog.Logger
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu        sync.Mutex
	err       error // nil while every checked stream has a leader
	since     time.Time
	checkedAt time.Time
}

// errMonitorStopped is the cause of the monitor's cancelled context.
var errMonitorStopped = errors.New("queue: stream monitor stopped")

// startStreamMonitor starts c's monitor; stop ends it.
func startStreamMonitor(c *Client, log *slog.Logger) *streamMonitor {
	ctx, cancel := context.WithCancelCause(context.Background())
	m := &streamMonitor{c: c, log: log, cancel: cancel, done: make(chan struct{}), since: time.Now()}
	go m.run(ctx)
	return m
}

// stop ends the monitor and waits for it, cancelling a request in flight.
// Idempotent; a nil monitor is fine.
func (m *streamMonitor) stop() {
	if m == nil {
		return
	}
	m.cancel(errMonitorStopped)
	<-m.done
}

// check returns the cached verdict: nil, or an error wrapping ErrNoLeader
// that names the queue, level and stream. It never blocks on the network.
func (m *streamMonitor) check() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// health returns the verdict for Status; nil for a nil monitor.
func (m *streamMonitor) health() *StreamHealth {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := &StreamHealth{OK: m.err == nil, Since: m.since, CheckedAt: m.checkedAt}
	if m.err != nil {
		h.Error = m.err.Error()
	}
	return h
}

func (m *streamMonitor) run(ctx context.Context) {
	defer close(m.done)
	t := time.NewTimer(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.c.nc.Status() == nats.CONNECTED {
			// While disconnected, Check reports the connection instead;
			// the verdict is refreshed after the reconnect.
			m.set(ctx, m.look(ctx))
		}
		if m.check() != nil {
			t.Reset(healthRetry)
		} else {
			t.Reset(healthInterval)
		}
	}
}

// set records the verdict of one look, logging only when it flips.
func (m *streamMonitor) set(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // stopped mid-look: the answer means nothing
	}
	now := time.Now()
	m.mu.Lock()
	was, since := m.err, m.since
	m.err, m.checkedAt = err, now
	if (was == nil) != (err == nil) {
		m.since = now
	}
	m.mu.Unlock()
	switch {
	case was == nil && err != nil:
		m.log.Warn("queue: a stream has no leader; not ready until one is elected", "err", err)
	case was != nil && err == nil:
		m.log.Info("queue: every stream has a leader again", "after", now.Sub(since).Round(time.Millisecond))
	}
}

// look checks every level of every open queue, in name and level order,
// and returns the first problem found (the rest of the look is skipped: one
// unanswered request already costs healthTimeout).
func (m *streamMonitor) look(ctx context.Context) error {
	m.c.mu.Lock()
	qs := make([]*Queue, 0, len(m.c.queues))
	for _, q := range m.c.queues {
		qs = append(qs, q)
	}
	m.c.mu.Unlock()
	slices.SortFunc(qs, func(a, b *Queue) int { return strings.Compare(a.name, b.name) })
	for _, q := range qs {
		for l := range q.consumers {
			if err := m.lookLevel(ctx, q, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookLevel checks the stream of q's level l and, if it is replicated, the
// level's consumer (its own Raft group: workers pull through its leader).
// Only errors that mean "no leader" count; any other failure to look (a
// permission, a deleted stream) is left to the calls that meet it, so the
// monitor never makes a role unready for a reason it cannot name.
func (m *streamMonitor) lookLevel(ctx context.Context, q *Queue, l int) error {
	stream := levelStream(q.name, l)
	where := fmt.Sprintf("queue %q level %d (stream %s)", q.name, l, stream)
	rctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	s, err := m.c.js.Stream(rctx, stream)
	if err != nil {
		return m.leaderless(ctx, where, "stream", err)
	}
	info := s.CachedInfo()
	if info.Cluster != nil && info.Cluster.Leader == "" {
		return noLeader(where, "stream", "", nil)
	}
	if info.Config.Replicas <= 1 {
		return nil // its consumer lives and dies with it
	}
	where = fmt.Sprintf("queue %q level %d (consumer %s of stream %s)", q.name, l, consumerName(q.name, l), stream)
	ci, err := q.consumers[l].Info(rctx)
	if err != nil {
		return m.leaderless(ctx, where, "consumer", err)
	}
	if ci.Cluster != nil && ci.Cluster.Leader == "" {
		return noLeader(where, "consumer", "", nil)
	}
	return nil
}

// leaderless turns a failed info request about what ("stream" or
// "consumer") into a "no leader" error, or nil when the failure means
// something else.
func (m *streamMonitor) leaderless(ctx context.Context, where, what string, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case ctx.Err() != nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return noLeader(where, what, fmt.Sprintf("no server answered a %s info request within %v", what, healthTimeout), err)
	case errors.Is(err, nats.ErrNoResponders):
		return noLeader(where, what, "no JetStream server answered (no responders)", err)
	case errors.As(err, &apiErr) && apiErr.Code == 503:
		return noLeader(where, what, describeAPIError(apiErr), err)
	}
	m.log.Debug("queue: stream check failed", "where", where, "err", err)
	return nil
}

// noLeader is the monitor's verdict: where, what has no leader, and the
// evidence (if not just an empty leader in the info).
func noLeader(where, what, evidence string, err error) error {
	text := fmt.Sprintf("%s: no %s leader — the cluster has no quorum or is electing one", where, what)
	if evidence != "" {
		text += " (" + evidence + ")"
	}
	return &explainedError{ErrNoLeader, text, err}
}
