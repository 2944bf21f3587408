package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Unique jobs: an enqueue with WithUnique first creates its key in the
// queue's uniqueness bucket (CRQ_<name>_unique, a KV bucket with per-key
// TTLs), a compare-and-set on the server that exactly one of any number of
// racing enqueues wins, across processes and levels. The key's value is
// the job's ID, so a duplicate learns which job it duplicates. The bucket
// is made on the first unique enqueue of the queue; queues that use no
// uniqueness have none.

// hdrUnique carries the key of a job unique while it is active, so the
// worker that finishes the job releases it.
const hdrUnique = "Cloudrole-Unique"

// ErrDuplicate is wrapped (by a *DuplicateError) by an enqueue refused
// because a job with the same unique key exists; nothing was enqueued.
var ErrDuplicate = errors.New("queue: duplicate of a unique job")

// DuplicateError is the error of an enqueue with WithUnique whose key is
// held by another job. Enqueue returns the other job's ID along with it.
type DuplicateError struct {
	Queue string
	// Key is the unique key, ID the job that holds it.
	Key, ID string
}

// Error names the job it duplicates.
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("queue %q: a duplicate of job %q (unique key %q); nothing was enqueued", e.Queue, e.ID, e.Key)
}

// Unwrap returns ErrDuplicate.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// Unique says what makes a job unique (WithUnique).
type Unique struct {
	// Key is what must be unique within the queue, whatever the
	// priority: 1..256 bytes of A-Z a-z 0-9 - / _ = and inner dots (a KV
	// key). Empty: with ByID the job's ID (WithID), otherwise a key
	// derived from the payload (its SHA-256), so that enqueues of the
	// same payload are duplicates.
	Key string
	// ByID makes the job's ID (set with WithID) the key.
	ByID bool
	// For keeps the key for this long from the enqueue, whatever happens
	// to the job: no job with the key can be enqueued again meanwhile.
	// Zero keeps it while the job is scheduled, queued or running: the
	// worker that finishes it (succeeded, dead-lettered or cancelled)
	// releases it. Such a key still expires StatusTTL after the job's due
	// time, should the job itself be lost (purged by hand). Whole seconds,
	// rounded up.
	For time.Duration
}

// WithUnique makes the enqueue unique: if a job with the same key exists
// (see Unique), nothing is enqueued and the enqueue returns that job's ID
// with an error wrapping ErrDuplicate (a *DuplicateError). Unlike WithID's
// dedupe, which lasts the queue's DuplicateWindow and is per level, the
// key lasts as long as Unique says and covers every level. It costs one
// KV write (a round trip) per enqueue; see BENCHMARKS.md.
func WithUnique(u Unique) EnqueueOption {
	return func(o *enqueueOpts) error {
		if u.Key != "" && u.ByID {
			return fmt.Errorf("%w: Unique with both a Key and ByID", ErrBadKey)
		}
		if u.Key != "" {
			if err := validateKey("unique key", u.Key); err != nil {
				return err
			}
		}
		if u.For < 0 {
			return fmt.Errorf("%w: Unique.For %v is negative", ErrBadConfig, u.For)
		}
		o.unique = &u
		return nil
	}
}

// uniqueKey is the key of a unique enqueue of payload as job id.
func uniqueKey(u *Unique, id string, hasID bool, payload []byte) (string, error) {
	switch {
	case u.Key != "":
		return u.Key, nil
	case u.ByID:
		if !hasID {
			return "", fmt.Errorf("%w: Unique.ByID needs WithID", ErrBadKey)
		}
		return "id." + id, nil
	default:
		sum := sha256.Sum256(payload)
		return "sha256." + hex.EncodeToString(sum[:]), nil
	}
}

// uniqueKV returns the queue's uniqueness bucket, made on first use.
func (q *Queue) uniqueKV(ctx context.Context) (jetstream.KeyValue, error) {
	q.uniq.mu.Lock()
	defer q.uniq.mu.Unlock()
	if q.uniq.kv != nil {
		return q.uniq.kv, nil
	}
	kv, err := openBucket(ctx, q.c.js, jetstream.KeyValueConfig{
		Bucket:      uniqueBucket(q.name),
		Description: "cloudrole unique job keys of queue " + q.name,
		Replicas:    q.cfg.Replicas,
	}, true)
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", q.name, err)
	}
	q.uniq.kv = kv
	return kv, nil
}

// uniqueState is a queue's handle on its uniqueness bucket.
type uniqueState struct {
	mu sync.Mutex
	kv jetstream.KeyValue
}

// claimUnique creates key for job id, held for ttl. It returns the
// revision created, or the *DuplicateError naming the job holding it.
func (q *Queue) claimUnique(ctx context.Context, key, id string, ttl time.Duration) (uint64, error) {
	kv, err := q.uniqueKV(ctx)
	if err != nil {
		return 0, err
	}
	for range 3 {
		rev, err := kv.Create(ctx, key, []byte(id), jetstream.KeyTTL(keyTTL(ttl)))
		if err == nil {
			return rev, nil
		}
		if !isKeyExists(err) {
			return 0, fmt.Errorf("queue %q: unique key %q: %w", q.name, key, orClosed(err))
		}
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released or expired meanwhile: try again
		}
		if err != nil {
			return 0, fmt.Errorf("queue %q: unique key %q: %w", q.name, key, orClosed(err))
		}
		return 0, &DuplicateError{Queue: q.name, Key: key, ID: string(e.Value())}
	}
	return 0, fmt.Errorf("queue %q: unique key %q: held and released again and again; try again", q.name, key)
}

// releaseUnique deletes key if job id still holds it (rev 0: whatever
// revision). Best effort: a key not released expires with its TTL.
func (q *Queue) releaseUnique(ctx context.Context, key, id string, rev uint64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	kv, err := q.uniqueKV(ctx)
	if err != nil {
		return
	}
	if rev == 0 {
		e, err := kv.Get(ctx, key)
		if err != nil || string(e.Value()) != id {
			return // released, expired, or held by another job
		}
		rev = e.Revision()
	}
	if err := kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil && !isRevisionConflict(err) {
		q.c.log.Warn("queue: unique key not released; it expires with its TTL", "queue", q.name, "key", key, "id", id, "err", err)
	}
}

// uniqueTTL is how long a unique enqueue holds its key.
func (q *Queue) uniqueTTL(u *Unique, due time.Time) time.Duration {
	if u.For > 0 {
		return u.For
	}
	ttl := q.cfg.StatusTTL
	if !due.IsZero() {
		ttl += time.Until(due)
	}
	return ttl
}
