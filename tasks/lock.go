package tasks

import "github.com/cloudrole/cloudrole/internal/lease"

// Locker hands out named, expiring leases. Singleton tasks use one so that a
// task runs on one instance at a time across all instances of a role.
// NewLocalLocker works within one process; package queue provides one backed
// by a NATS KV bucket that works across machines.
//
// Acquire tries once to take the lock called name for holder, for ttl. If
// another holder has a live lease it returns an error wrapping ErrLockHeld.
// A lease not renewed within ttl expires and may be acquired by someone else.
type Locker = lease.Locker

// Lease is a lock held by one holder: Token is the fencing token (it grows
// with every new holder of the same lock name), Renew extends the lease or
// reports ErrLeaseLost, and Release (idempotent) gives the lock up at once.
type Lease = lease.Lease

var (
	// ErrLockHeld means another holder has a live lease on the lock.
	ErrLockHeld = lease.ErrLockHeld
	// ErrLeaseLost means a lease expired or was taken over; the work it
	// protected must stop.
	ErrLeaseLost = lease.ErrLeaseLost
)
