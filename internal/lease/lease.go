package lease

import (
	"context"
	"errors"
	"time"
)

// Locker hands out named, expiring leases. Singleton tasks use one so that a
// task runs on one instance at a time across all instances of a role.
type Locker interface {
	// Acquire tries once to take the lock called name for holder, for ttl.
	// If another holder has a live lease it returns an error wrapping
	// ErrLockHeld. A lease not renewed within ttl expires and may be
	// acquired by someone else.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error)
}

// Lease is a lock held by one holder.
type Lease interface {
	// Token is the fencing token: it grows with every new holder of the
	// same lock name, so a system written to under the lock can refuse a
	// write that carries an older token than one it has already seen.
	Token() uint64

	// Renew extends the lease by its ttl. It returns an error wrapping
	// ErrLeaseLost when the lease expired or another holder took the lock;
	// the holder must then stop the work the lease protected.
	Renew(ctx context.Context) error

	// Release gives the lock up so another holder can take it at once.
	// It is idempotent; releasing a lost lease is not an error.
	Release(ctx context.Context) error
}

var (
	// ErrLockHeld means another holder has a live lease on the lock.
	ErrLockHeld = errors.New("lock held by another holder")
	// ErrLeaseLost means a lease expired or was taken over; the work it
	// protected must stop.
	ErrLeaseLost = errors.New("lease lost")
)
