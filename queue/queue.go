package queue

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Queue is a durable priority queue: per level, one JetStream WorkQueue
// stream with one subject and a durable pull consumer; a dead-letter stream and,
// with TrackStatus, a KV bucket of job states. Safe for concurrent use by
// any number of producers and workers, in this process or others.
type Queue struct {
	c    *Client
	name string
	cfg  Config

	consumers []jetstream.Consumer
	dlq       jetstream.Stream
	status    jetstream.KeyValue // nil without TrackStatus
	sched     jetstream.Stream   // the schedule stream
	ctl       jetstream.KeyValue // cancel requests; nil without TrackStatus
	bells     []string           // each level's bell subject (see bell.go)
	subjects  []string           // each level's subject

	stats queueStats
	pend  pendingCache
	uniq  uniqueState
}

type queueStats struct {
	inflight, processed, failed, dead, cancelled atomic.Int64
	mu                                           sync.Mutex
	lastErr                                      string
	lastErrAt                                    time.Time
}

func (s *queueStats) setErr(err error) {
	s.mu.Lock()
	s.lastErr, s.lastErrAt = trunc512(err.Error()), time.Now()
	s.mu.Unlock()
}

func trunc512(s string) string {
	if len(s) > 512 {
		return s[:512] + "..."
	}
	return s
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Config returns the configuration the queue was opened with, defaults
// applied (the stored one: Queue refuses another). It does not follow a
// later UpdateQueue, in this process or another, until the queue is opened
// again.
func (q *Queue) Config() Config { return q.cfg }

func randN(n int64) int64 { return rand.Int64N(n) }

// QueueFigure is a queue's status snapshot.
type QueueFigure struct {
	Name      string  `json:"name"`
	Pending   []int64 `json:"pending"` // per level, 0 = highest; -1 if unknown
	InFlight  int64   `json:"in_flight"`
	Processed int64   `json:"processed"`
	Failed    int64   `json:"failed"`
	Dead      int64   `json:"dead_lettered"`
	Cancelled int64   `json:"cancelled,omitempty"`
	LastError string  `json:"last_error,omitempty"`
	LastErrAt string  `json:"last_error_at,omitempty"`
}

// pendingCache keeps per-level pending counts so that /status costs at
// most one round trip per level per second.
type pendingCache struct {
	mu      sync.Mutex
	at      time.Time
	pending []int64
}

func (q *Queue) figure() QueueFigure {
	f := QueueFigure{
		Name:      q.name,
		InFlight:  q.stats.inflight.Load(),
		Processed: q.stats.processed.Load(),
		Failed:    q.stats.failed.Load(),
		Dead:      q.stats.dead.Load(),
		Cancelled: q.stats.cancelled.Load(),
		Pending:   q.pendingCached(),
	}
	q.stats.mu.Lock()
	f.LastError = q.stats.lastErr
	if !q.stats.lastErrAt.IsZero() {
		f.LastErrAt = q.stats.lastErrAt.UTC().Format(time.RFC3339)
	}
	q.stats.mu.Unlock()
	return f
}

func (q *Queue) pendingCached() []int64 {
	q.pend.mu.Lock()
	defer q.pend.mu.Unlock()
	if q.pend.pending != nil && time.Since(q.pend.at) < time.Second {
		return append([]int64(nil), q.pend.pending...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	p := make([]int64, len(q.consumers))
	for l, cons := range q.consumers {
		if q.cfg.Fairness {
			// The level's consumer sees only the jobs without a key:
			// count what the stream holds (running jobs included).
			p[l] = -1
			if s, err := q.c.js.Stream(ctx, levelStream(q.name, l)); err == nil {
				p[l] = int64(s.CachedInfo().State.Msgs)
			}
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			p[l] = -1
			continue
		}
		p[l] = int64(info.NumPending)
	}
	q.pend.pending, q.pend.at = p, time.Now()
	return append([]int64(nil), p...)
}
