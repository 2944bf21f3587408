package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/internal/lease"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// DefaultLockBucket is the KV bucket a Locker uses unless told otherwise.
const DefaultLockBucket = "cloudrole_locks"

// LockerOptions configure a Locker.
type LockerOptions struct {
	// Bucket is the KV bucket holding the locks (one key per lock name).
	// Defaults to DefaultLockBucket. Every instance that must exclude the
	// others uses the same bucket.
	Bucket string
	// Replicas is the bucket's replica count on a cluster (default 1).
	Replicas int
}

// Locker is a lease.Locker (and so a tasks.Locker) backed by a NATS KV
// bucket, so singleton tasks exclude each other across machines.
//
// A lock is a key created only if absent, with a per-key TTL kept by the
// server: a holder that stops renewing loses the lock after its TTL
// measured on the server's clock, whatever the holders' clocks say. The
// server counts TTLs in whole seconds, so a TTL is rounded up to whole
// seconds and is at least one second: a lease may outlive the ttl asked for
// by under a second, never expire before it.
//
// A Locker renews nothing by itself: the holder calls Lease.Renew well
// inside the TTL (tasks.Singleton renews at a third of it). Safe for
// concurrent use.
type Locker struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	bucket string
}

var _ lease.Locker = (*Locker)(nil)

// NewLocker creates (or updates to per-key TTLs) the bucket and returns a
// Locker on it. Errors wrap ErrBadName for a bad bucket name, ErrBadOptions
// for negative Replicas, or the server's error.
func NewLocker(ctx context.Context, js jetstream.JetStream, opts LockerOptions) (*Locker, error) {
	if opts.Bucket == "" {
		opts.Bucket = DefaultLockBucket
	}
	kv, err := openBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:      opts.Bucket,
		Description: "cloudrole lease locks",
		Replicas:    opts.Replicas,
	}, true)
	if err != nil {
		return nil, fmt.Errorf("locker: %w", err)
	}
	return &Locker{js: js, kv: kv, bucket: opts.Bucket}, nil
}

// Locker returns a Locker on this client's connection; see NewLocker.
func (c *Client) Locker(ctx context.Context, opts LockerOptions) (*Locker, error) {
	return NewLocker(ctx, c.js, opts)
}

// lockValue is what a lock's key holds. ID tells this lease's own writes
// from another holder's, even one using the same holder name.
type lockValue struct {
	Holder   string    `json:"holder"`
	ID       string    `json:"id"`
	Acquired time.Time `json:"acquired"`
}

// acquireTries bounds Acquire's retries when the key expires between a
// failed create and the read that would name its holder.
const acquireTries = 3

// Acquire tries once to take the lock called name for holder, for ttl (see
// Locker for how ttl is rounded). It does not wait for a held lock: while
// another holder's lease lives it returns an error wrapping
// lease.ErrLockHeld that names that holder. The returned Lease's Token is
// the revision of the acquiring write, which grows with every new holder of
// any lock in the bucket. Errors wrap ErrBadKey for a name that cannot be a
// KV key (A-Z a-z 0-9 - / _ = and inner dots), or the server's error.
func (l *Locker) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (lease.Lease, error) {
	if err := validateKey("lock name", name); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("queue: lock %q: ttl %v is not positive", name, ttl)
	}
	v := lockValue{Holder: holder, ID: nuid.Next(), Acquired: time.Now().UTC()}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("queue: lock %q: %w", name, err)
	}
	for range acquireTries {
		rev, err := l.kv.Create(ctx, name, b, jetstream.KeyTTL(keyTTL(ttl)))
		if err == nil {
			return &kvLease{l: l, name: name, id: v.ID, value: b, ttl: ttl, token: rev, rev: rev}, nil
		}
		if !isKeyExists(err) {
			return nil, fmt.Errorf("queue: lock %q: acquire: %w", name, err)
		}
		e, err := l.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired or released just now: try again
		}
		if err != nil {
			return nil, fmt.Errorf("queue: lock %q: read holder: %w", name, err)
		}
		var cur lockValue
		_ = json.Unmarshal(e.Value(), &cur) // a foreign value still holds the lock
		return nil, fmt.Errorf("queue: lock %q: held by %q since %s: %w",
			name, cur.Holder, cur.Acquired.Format(time.RFC3339), lease.ErrLockHeld)
	}
	return nil, fmt.Errorf("queue: lock %q: changing hands too fast to acquire: %w", name, lease.ErrLockHeld)
}

// kvLease is one holder's lease on a lock key.
type kvLease struct {
	l     *Locker
	name  string
	id    string
	value []byte
	ttl   time.Duration
	token uint64

	mu       sync.Mutex // serialises Renew and Release
	rev      uint64     // revision of this lease's latest write
	lost     bool
	released bool
}

// Token returns the revision of the write that acquired the lease.
func (s *kvLease) Token() uint64 { return s.token }

// Renew rewrites the key if its revision is still this lease's latest
// write, resetting its TTL. It returns an error wrapping lease.ErrLeaseLost
// when the key expired, was released, or another holder took it; other
// errors (a timeout) leave the lease as it was and may be retried.
func (s *kvLease) Renew(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return fmt.Errorf("queue: lock %q: renew after release: %w", s.name, lease.ErrLeaseLost)
	}
	if s.lost {
		return fmt.Errorf("queue: lock %q: %w", s.name, lease.ErrLeaseLost)
	}
	rev, err := casPut(ctx, s.l.js, s.l.bucket, s.name, s.value, s.rev, s.ttl)
	if err == nil {
		s.rev = rev
		return nil
	}
	if !isRevisionConflict(err) {
		return fmt.Errorf("queue: lock %q: renew: %w", s.name, err)
	}
	// A renewal that timed out on our side may have landed: then the key
	// is still ours at a later revision.
	if rev, ok := s.ownRevision(ctx); ok {
		if rev, err = casPut(ctx, s.l.js, s.l.bucket, s.name, s.value, rev, s.ttl); err == nil {
			s.rev = rev
			return nil
		}
	}
	s.lost = true
	return fmt.Errorf("queue: lock %q: expired or taken over: %w", s.name, lease.ErrLeaseLost)
}

// ownRevision returns the key's revision if it still holds this lease.
func (s *kvLease) ownRevision(ctx context.Context) (uint64, bool) {
	e, err := s.l.kv.Get(ctx, s.name)
	if err != nil {
		return 0, false
	}
	var cur lockValue
	if json.Unmarshal(e.Value(), &cur) != nil || cur.ID != s.id {
		return 0, false
	}
	return e.Revision(), true
}

// Release deletes the key if this lease still holds it, so another holder
// can acquire at once. It is idempotent, and releasing a lost lease returns
// nil. A failed delete (a timeout) returns the error and may be retried; if
// never retried, the lease expires after its TTL.
func (s *kvLease) Release(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released || s.lost {
		s.released = true
		return nil
	}
	err := s.l.kv.Delete(ctx, s.name, jetstream.LastRevision(s.rev))
	if err != nil && isRevisionConflict(err) {
		if rev, ok := s.ownRevision(ctx); ok {
			err = s.l.kv.Delete(ctx, s.name, jetstream.LastRevision(rev))
		}
		if err != nil && isRevisionConflict(err) {
			err = nil // someone else holds it now: nothing of ours to release
		}
	}
	if err != nil {
		return fmt.Errorf("queue: lock %q: release: %w", s.name, err)
	}
	s.released = true
	return nil
}
