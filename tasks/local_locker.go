package tasks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// LocalLocker is a Locker for the instances of one process (one machine):
// leases live in memory and expire by its clock. It suits a single machine
// and tests; across machines use a Locker backed by shared storage (package
// queue provides one on NATS KV). Safe for concurrent use; the zero value is
// not usable, make one with NewLocalLocker.
type LocalLocker struct {
	clock clockwork.Clock

	mu    sync.Mutex
	locks map[string]*localLock
}

// localLock is the state of one lock name. Entries are kept after release
// so fencing tokens keep growing.
type localLock struct {
	holder  string // "" when free
	token   uint64 // the current (or last) holder's token
	expires time.Time
}

var _ Locker = (*LocalLocker)(nil)

// NewLocalLocker returns an empty LocalLocker whose leases expire by clock
// (the real clock if nil).
func NewLocalLocker(clock clockwork.Clock) *LocalLocker {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &LocalLocker{clock: clock, locks: make(map[string]*localLock)}
}

// Acquire takes the lock called name for holder for ttl, if it is free or
// its lease has expired. Every successful Acquire gets a fencing token
// greater than any issued before for that name; a holder that acquires again
// gets a new token and its previous lease is lost. If another holder has a
// live lease it returns an error wrapping ErrLockHeld that names the holder.
// It never blocks; it returns ctx's error if ctx is done, and an error if
// name or holder is empty or ttl is not positive.
func (l *LocalLocker) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name == "" || holder == "" || ttl <= 0 {
		return nil, fmt.Errorf("tasks: LocalLocker.Acquire(%q, %q, %v): want a name, a holder and a positive ttl", name, holder, ttl)
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lk := l.locks[name]
	if lk == nil {
		lk = &localLock{}
		l.locks[name] = lk
	}
	if lk.holder != "" && lk.holder != holder && now.Before(lk.expires) {
		return nil, fmt.Errorf("%w: lock %q held by %q until %s", ErrLockHeld, name, lk.holder, lk.expires.Format(time.RFC3339Nano))
	}
	lk.holder = holder
	lk.token++
	lk.expires = now.Add(ttl)
	return &localLease{l: l, name: name, token: lk.token, ttl: ttl}, nil
}

// localLease is one holder's lease on a LocalLocker lock.
type localLease struct {
	l     *LocalLocker
	name  string
	token uint64
	ttl   time.Duration
}

func (s *localLease) Token() uint64 { return s.token }

// Renew extends the lease by its ttl from now, unless it expired or was
// taken over (ErrLeaseLost).
func (s *localLease) Renew(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.l.clock.Now()
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	lk := s.l.locks[s.name]
	if lk.token != s.token || lk.holder == "" {
		return fmt.Errorf("%w: lock %q was taken over or released", ErrLeaseLost, s.name)
	}
	if !now.Before(lk.expires) {
		return fmt.Errorf("%w: lock %q expired at %s", ErrLeaseLost, s.name, lk.expires.Format(time.RFC3339Nano))
	}
	lk.expires = now.Add(s.ttl)
	return nil
}

// Release frees the lock if this lease still holds it. Idempotent; never
// fails.
func (s *localLease) Release(context.Context) error {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if lk := s.l.locks[s.name]; lk.token == s.token {
		lk.holder = ""
	}
	return nil
}
