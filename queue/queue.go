package queue

import (
	"context"
	"fmt"
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

	stats queueStats
	pend  pendingCache
}

type queueStats struct {
	inflight, processed, failed, dead atomic.Int64
	mu                                sync.Mutex
	lastErr                           string
	lastErrAt                         time.Time
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

// Queue creates the queue called name, or updates it to cfg if it exists
// (idempotent: calling it again with the same cfg changes nothing). name is
// 1..64 characters of A-Z a-z 0-9 _ -; errors wrap ErrBadName or
// ErrBadConfig and create nothing. The number of levels of an existing
// queue cannot change.
func (c *Client) Queue(ctx context.Context, name string, cfg Config) (*Queue, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	if err := c.checkOldLayout(ctx, name); err != nil {
		return nil, err
	}
	maxMsgs := int64(-1)
	if cfg.MaxBacklog > 0 {
		maxMsgs = cfg.MaxBacklog
	}
	q := &Queue{c: c, name: name, cfg: cfg}
	for l := range cfg.Levels {
		subject := levelSubject(name, l)
		scfg := jetstream.StreamConfig{
			Name:        levelStream(name, l),
			Description: fmt.Sprintf("cloudrole queue %s level %d", name, l),
			Subjects:    []string{subject},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxMsgs:     maxMsgs,
			Discard:     jetstream.DiscardNew,
			MaxMsgSize:  int32(cfg.MaxPayload + 64<<10), // room for headers
			Duplicates:  cfg.DuplicateWindow,
			// Idle workers wait on this headers-only copy of every stored
			// job instead of polling each level.
			RePublish: &jetstream.RePublish{
				Source:      subject,
				Destination: bellLevelSubject(name, l),
				HeadersOnly: true,
			},
		}
		err = provision(ctx, func(ctx context.Context) error {
			_, err := ensureStream(ctx, c.js, scfg)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("queue %q: stream for level %d: %w", name, l, err)
		}
		ccfg := jetstream.ConsumerConfig{
			Durable:     consumerName(name, l),
			Description: fmt.Sprintf("cloudrole queue %s level %d", name, l),
			AckPolicy:   jetstream.AckExplicitPolicy,
			AckWait:     cfg.AckWait,
			// Unlimited at the server: the worker counts attempts and
			// dead-letters itself, so a job whose last attempt died with
			// its worker is still dead-lettered, never left stuck.
			MaxDeliver:    -1,
			MaxAckPending: -1,
			Replicas:      cfg.Replicas,
		}
		var cons jetstream.Consumer
		err := provision(ctx, func(ctx context.Context) (err error) {
			cons, err = c.js.CreateOrUpdateConsumer(ctx, levelStream(name, l), ccfg)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("queue %q: consumer for level %d: %w", name, l, err)
		}
		q.consumers = append(q.consumers, cons)
	}
	dcfg := jetstream.StreamConfig{
		Name:        dlqStreamName(name),
		Description: "cloudrole dead letters of queue " + name,
		Subjects:    []string{dlqSubject(name)},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.DeadLetterMaxAge,
		Duplicates:  cfg.DuplicateWindow,
	}
	err = provision(ctx, func(ctx context.Context) (err error) {
		q.dlq, err = ensureStream(ctx, c.js, dcfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue %q: dead-letter stream: %w", name, err)
	}
	if cfg.TrackStatus {
		kcfg := jetstream.KeyValueConfig{
			Bucket:      statusBucket(name),
			Description: "cloudrole job status of queue " + name,
			TTL:         cfg.StatusTTL,
			Replicas:    cfg.Replicas,
			Storage:     jetstream.FileStorage,
		}
		err = provision(ctx, func(ctx context.Context) (err error) {
			q.status, err = ensureKV(ctx, c.js, kcfg)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("queue %q: status bucket: %w", name, err)
		}
	}
	c.mu.Lock()
	if old, ok := c.queues[name]; ok {
		q.stats.inflight.Store(old.stats.inflight.Load())
		q.stats.processed.Store(old.stats.processed.Load())
		q.stats.failed.Store(old.stats.failed.Load())
		q.stats.dead.Store(old.stats.dead.Load())
	}
	c.queues[name] = q
	c.mu.Unlock()
	return q, nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Config returns the queue's configuration with defaults applied.
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
