package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Fairness by key (Config.Fairness). A job enqueued WithKey(k) is stored
// at its level's stream on a subject of its own key,
// cloudrole.queue.<name>.<level>.k.<k>, and each key with jobs has a
// durable consumer of its own on the level's stream, filtered on that
// subject (the level's consumer takes the jobs without a key). Within a
// level a worker takes turns among the keys that have jobs (and the jobs
// without a key), one request each, so a flood from one key waits behind
// its own jobs only. A JetStream consumer delivers in stream order, and no
// request can ask for "the next job of another key", so a consumer per
// key is what gives each key its own place in line.
//
// Costs, only for queues with Fairness: a consumer per key with jobs
// (created by the first worker to see the key, removed by the server
// after keyConsumerIdle without requests); the level stream has two
// subjects, which makes each ack of that level load the job and ask every
// consumer of the level whether it still needs it; and a worker's pull
// requests are split among the keys, so they are smaller and more. With
// ten keys busy a job costs about 1.7 times the CPU of one on a queue
// without Fairness (BenchmarkThroughputFair against BenchmarkThroughput,
// server included). So it suits keys counted in tens to a few thousands
// per level (tenants, customers), not one per job.

// keyConsumerIdle is how long a key's consumer lives without a request.
const keyConsumerIdle = time.Hour

// maxKeyLength bounds a fairness key (one subject token).
const maxKeyLength = 128

// validateFairKey accepts 1..128 bytes of A-Z a-z 0-9 _ - =.
func validateFairKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: fairness key is empty", ErrBadKey)
	}
	if len(key) > maxKeyLength {
		return fmt.Errorf("%w: fairness key %.32q… is %d bytes long; at most %d", ErrBadKey, key, len(key), maxKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if c := rune(key[i]); !nameChar(c) && c != '=' {
			return fmt.Errorf("%w: fairness key %q has %q at byte %d; use only A-Z a-z 0-9 _ - =", ErrBadKey, key, c, i)
		}
	}
	return nil
}

// WithKey gives the job a fairness key (a tenant, a customer): within its
// level, the queue's workers take turns among the keys with jobs waiting,
// so a flood of jobs from one key cannot starve the others (see
// Config.Fairness, which it needs: an error wrapping ErrBadConfig
// otherwise). The key is 1..128 bytes of A-Z a-z 0-9 _ - = (ErrBadKey
// otherwise); the handler sees it as Job.Key.
func WithKey(key string) EnqueueOption {
	return func(o *enqueueOpts) error {
		if err := validateFairKey(key); err != nil {
			return err
		}
		o.key = key
		return nil
	}
}

func keySubject(q string, l int, key string) string { return levelSubject(q, l) + ".k." + key }
func keySubjects(q string, l int) string            { return levelSubject(q, l) + ".k.*" }
func dueKeySubjects(q string, l int) string         { return dueSubject(q, l) + ".k.*" }

// keyConsumer names the consumer of key at level l: a hash, since a key
// may be longer than a consumer name allows.
func keyConsumer(q string, l int, key string) string {
	sum := sha256.Sum256([]byte(key))
	return consumerName(q, l) + "_k" + hex.EncodeToString(sum[:8])
}

// keyAt returns where the key tokens (".k.<key>") of a level stream
// subject start: after cloudrole.queue.<name>.<level>, the fourth dot; -1
// for a subject without a key. Names, levels and keys hold no dots.
func keyAt(subject string) int {
	dots := 0
	for i := 0; i < len(subject); i++ {
		if subject[i] == '.' {
			if dots++; dots == 4 {
				if strings.HasPrefix(subject[i:], ".k.") {
					return i
				}
				return -1
			}
		}
	}
	return -1
}

// withoutKey returns a level stream subject without its key tokens.
func withoutKey(subject string) string {
	if i := keyAt(subject); i >= 0 {
		return subject[:i]
	}
	return subject
}

// keyOf returns the fairness key in a level stream subject, or "".
func keyOf(subject string) string {
	if i := keyAt(subject); i >= 0 {
		return subject[i+3:]
	}
	return ""
}

func keyConsumerConfig(name string, l int, key string, cfg Config) jetstream.ConsumerConfig {
	c := levelConsumerConfig(name, l, cfg)
	c.Durable = keyConsumer(name, l, key)
	c.Description = fmt.Sprintf("cloudrole queue %s level %d key %s", name, l, key)
	c.FilterSubject = keySubject(name, l, key)
	c.InactiveThreshold = max(keyConsumerIdle, 10*cfg.AckWait)
	return c
}

// fairLevel is a worker's view of the keys of one level: the sub-queues
// it takes turns among. The plain one (key "") is the level's own
// consumer. Bells add keys from the connection's goroutine; the
// dispatcher takes turns.
type fairLevel struct {
	level int
	mu    sync.Mutex
	subs  map[string]*subQueue
	ring  []*subQueue // turn order
	next  int         // dispatcher-owned
}

// subQueue is one key of a fair level.
type subQueue struct {
	key      string
	consumer string
	maybe    atomic.Bool   // may hold deliverable jobs
	gen      atomic.Uint64 // bumped each time it is marked
	ready    atomic.Bool   // its consumer exists
	creating atomic.Bool   // a creation is queued or under way
}

func newFairLevel(name string, l int) *fairLevel {
	plain := &subQueue{consumer: consumerName(name, l)}
	plain.ready.Store(true)
	plain.maybe.Store(true)
	return &fairLevel{level: l, subs: map[string]*subQueue{"": plain}, ring: []*subQueue{plain}}
}

// sub returns the sub-queue of key, adding it (not ready) if new.
func (f *fairLevel) sub(name, key string) (s *subQueue, added bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.subs[key]; s != nil {
		return s, false
	}
	s = &subQueue{key: key, consumer: keyConsumer(name, f.level, key)}
	f.subs[key] = s
	f.ring = append(f.ring, s)
	return s, true
}

// turn returns the next ready sub-queue that may hold jobs, in turn, and
// how many ready ones may: the dispatcher splits its free slots among
// them. Dispatcher only.
func (f *fairLevel) turn() (*subQueue, int) {
	f.mu.Lock()
	ring := f.ring
	f.mu.Unlock()
	var pick *subQueue
	n := 0
	for i := range ring {
		s := ring[(f.next+i)%len(ring)]
		if s.ready.Load() && s.maybe.Load() {
			if pick == nil {
				pick = s
				f.next = (f.next + i + 1) % len(ring)
			}
			n++
		}
	}
	return pick, n
}

// any reports whether some ready sub-queue may hold jobs.
func (f *fairLevel) any() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.ring {
		if s.ready.Load() && s.maybe.Load() {
			return true
		}
	}
	return false
}

// markAll marks every ready sub-queue (a poll).
func (f *fairLevel) markAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.ring {
		s.gen.Add(1)
		s.maybe.Store(true)
	}
}

// markSub notes that sub-queue s of level l may hold jobs.
func (w *worker) markSub(l int, s *subQueue, now int64) {
	s.gen.Add(1)
	s.maybe.Store(true)
	if s.ready.Load() {
		w.mark(l, now)
	}
}

// clearSub notes that s had no job left when a request sent at its mark
// generation gen (and the level's lgen) was answered; the level is clear
// once none of its sub-queues may hold jobs.
func (w *worker) clearSub(l int, s *subQueue, gen, lgen uint64) {
	if s.gen.Load() == gen {
		s.maybe.Store(false)
		if s.gen.Load() != gen {
			s.maybe.Store(true)
		}
	}
	if !w.fair[l].any() {
		w.clear(l, lgen)
	}
}

// fairBell marks the key of a new job of fair level l, from its bell.
func (w *worker) fairBell(l int, subject string, now int64) {
	f := w.fair[l]
	s, added := f.sub(w.q.name, keyOf(subject))
	if added || !s.ready.Load() {
		w.ensureKeyConsumer(l, s)
	}
	w.markSub(l, s, now)
}

// ensureKeyConsumer queues the creation of s's consumer (once at a time).
func (w *worker) ensureKeyConsumer(l int, s *subQueue) {
	if s.key == "" || !s.creating.CompareAndSwap(false, true) {
		return
	}
	select {
	case w.keyMaker <- keyJob{l, s}:
	default:
		s.creating.Store(false) // full: the next bell or poll asks again
	}
}

// dropKeyConsumers deletes the consumers of the keys of level l (turning
// Fairness off). Their jobs stay in the stream, for the level's consumer.
func (c *Client) dropKeyConsumers(ctx context.Context, name string, l int) error {
	prefix := consumerName(name, l) + "_k"
	var names []string
	err := provision(ctx, func(ctx context.Context) error {
		names = names[:0]
		s, err := c.js.Stream(ctx, levelStream(name, l))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		lister := s.ConsumerNames(ctx)
		for n := range lister.Name() {
			if strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		return lister.Err()
	})
	if err != nil {
		return fmt.Errorf("queue %q: listing the consumers of level %d's keys: %w", name, l, err)
	}
	for _, n := range names {
		err := provision(ctx, func(ctx context.Context) error {
			err := c.js.DeleteConsumer(ctx, levelStream(name, l), n)
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("queue %q: deleting consumer %s of a key of level %d: %w", name, n, l, err)
		}
	}
	return nil
}

// keyJob asks for a key's consumer.
type keyJob struct {
	l int
	s *subQueue
}

// makeKeyConsumers creates (or binds to) the consumers of new keys until
// ctx ends. It belongs to Work, which waits for it. jobs is never closed:
// bells may still send to it (without blocking) while Work returns.
func (w *worker) makeKeyConsumers(ctx context.Context, jobs <-chan keyJob) {
	for {
		var kj keyJob
		select {
		case kj = <-jobs:
		case <-ctx.Done():
			return
		}
		cfg := keyConsumerConfig(w.q.name, kj.l, kj.s.key, w.q.cfg)
		err := provision(ctx, func(ctx context.Context) error {
			_, err := w.q.c.js.CreateConsumer(ctx, levelStream(w.q.name, kj.l), cfg)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				return nil // made by another worker, perhaps with an older AckWait: used as it is
			}
			return err
		})
		kj.s.creating.Store(false)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("queue: cannot create the consumer of a fairness key; retried on the next poll", "level", kj.l, "key", kj.s.key, "err", err)
			}
			continue
		}
		kj.s.ready.Store(true)
		w.markSub(kj.l, kj.s, time.Now().UnixNano())
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// discoverKeys adds the keys with jobs already stored at each fair level
// (one stream info request per level), before the first fetch.
func (w *worker) discoverKeys(ctx context.Context) error {
	for l, f := range w.fair {
		if f == nil {
			continue
		}
		var subjects map[string]uint64
		err := provision(ctx, func(ctx context.Context) error {
			s, err := w.q.c.js.Stream(ctx, levelStream(w.q.name, l))
			if err != nil {
				return err
			}
			info, err := s.Info(ctx, jetstream.WithSubjectFilter(keySubjects(w.q.name, l)))
			if err != nil {
				return err
			}
			subjects = info.State.Subjects
			return nil
		})
		if err != nil {
			return fmt.Errorf("queue %q: listing the fairness keys of level %d: %w", w.q.name, l, err)
		}
		for subj := range subjects {
			s, _ := f.sub(w.q.name, keyOf(subj))
			s.maybe.Store(true)
			w.ensureKeyConsumer(l, s)
		}
	}
	return nil
}

// retryKeyConsumers asks again for consumers not ready (a poll), and for
// the consumer of a key whose requests found none (removed as idle).
func (w *worker) retryKeyConsumers() {
	for l, f := range w.fair {
		if f == nil {
			continue
		}
		f.mu.Lock()
		ring := f.ring
		f.mu.Unlock()
		for _, s := range ring {
			if !s.ready.Load() {
				w.ensureKeyConsumer(l, s)
			}
		}
	}
}
