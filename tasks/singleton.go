package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"
)

// Defaults for Singleton tasks. A holder renews at a third of the TTL, so it
// survives two failed renewals in a row; an instance that crashed is
// replaced within about TTL + AcquireInterval.
const (
	DefaultLeaseTTL = 15 * time.Second
)

// singleton is what Singleton and its options set, and the lease a task
// holds; one per task, allocated only for Singleton tasks.
type singleton struct {
	locker       Locker
	ttl          time.Duration
	acquireEvery time.Duration
	lockName     string

	// Guarded by the task's mu.
	lease       Lease // nil while not holding the lock
	leaseCtx    context.Context
	leaseCancel context.CancelCauseFunc
	renewTimer  clockwork.Timer
	renewedAt   time.Time
	token       uint64
}

// SingletonOption configures a Singleton task.
type SingletonOption interface {
	applySingleton(*singleton) error
}

type singletonOptionFunc func(*singleton) error

func (f singletonOptionFunc) applySingleton(c *singleton) error { return f(c) }

// Singleton makes the task run on one instance at a time: before running, the
// task acquires a lease from locker under a lock name shared by every
// instance (see LockName). While another instance holds it the task is
// inactive and retries every AcquireInterval. The holder renews the lease at
// a third of its TTL; if a renewal reports ErrLeaseLost, or none succeeds
// for a whole TTL, the run's context is cancelled with a cause wrapping
// ErrLeaseLost and the task goes inactive (a run that ignores that past the
// group's Grace ends the group, since two instances would be doing the
// work). The lease is kept across restarts of the task and released when it
// stops, so another instance takes over at once. The run's context carries
// the lease's fencing token (FencingToken).
//
// It is an error if locker is nil or an option is bad.
func Singleton(locker Locker, opts ...SingletonOption) Option {
	return optionFunc(func(c *taskConfig) error {
		if locker == nil {
			return errors.New("option Singleton: nil Locker")
		}
		sc := &singleton{locker: locker, ttl: DefaultLeaseTTL}
		for _, o := range opts {
			if o == nil {
				return errors.New("option Singleton: nil option")
			}
			if err := o.applySingleton(sc); err != nil {
				return fmt.Errorf("option Singleton: %w", err)
			}
		}
		if sc.acquireEvery == 0 {
			sc.acquireEvery = sc.ttl / 3
		}
		c.single = sc
		return nil
	})
}

// LeaseTTL sets how long a lease lasts without renewal. Defaults to
// DefaultLeaseTTL (15s). It is an error if ttl is under 3ms (renewals come
// every ttl/3).
func LeaseTTL(ttl time.Duration) SingletonOption {
	return singletonOptionFunc(func(c *singleton) error {
		if ttl < 3*time.Millisecond {
			return fmt.Errorf("LeaseTTL(%v): want at least 3ms", ttl)
		}
		c.ttl = ttl
		return nil
	})
}

// AcquireInterval sets how often an inactive instance tries to acquire the
// lock. Defaults to a third of the lease TTL. It is an error if d <= 0.
func AcquireInterval(d time.Duration) SingletonOption {
	return singletonOptionFunc(func(c *singleton) error {
		if d <= 0 {
			return fmt.Errorf("AcquireInterval(%v): want a positive interval", d)
		}
		c.acquireEvery = d
		return nil
	})
}

// LockName sets the name of the lock. Every instance that must not run the
// task at the same time must use the same name. Defaults to
// "<group name>/<task name>". It is an error if name is empty.
func LockName(name string) SingletonOption {
	return singletonOptionFunc(func(c *singleton) error {
		if name == "" {
			return errors.New("LockName: empty name")
		}
		c.lockName = name
		return nil
	})
}

// hold returns the context a run must use: the group's, or for a Singleton
// the context of a live lease, acquiring one first (inactive meanwhile). It
// returns false once the group has ended.
func (t *task) hold() (context.Context, bool) {
	g := t.g
	if t.single == nil {
		return g.ctx, g.ctx.Err() == nil
	}
	sc := t.single
	t.mu.Lock()
	lctx := sc.leaseCtx
	t.mu.Unlock()
	if lctx != nil {
		if lctx.Err() == nil {
			return lctx, true
		}
		t.dropLease() // lost
	}
	var lastErr string
	for {
		t.setState(StateInactive, time.Time{})
		lease, err := sc.locker.Acquire(g.ctx, sc.lockName, g.s.instance, sc.ttl)
		if g.ctx.Err() != nil {
			if err == nil {
				releaseLease(g.ctx, lease, sc.ttl)
			}
			return nil, false
		}
		if err == nil {
			return t.takeLease(lease), true
		}
		if !errors.Is(err, ErrLockHeld) {
			// Show why the task is inactive; log each distinct failure
			// once, not every attempt.
			now := g.s.clock.Now()
			t.mu.Lock()
			f := t.failuresLocked()
			f.lastErr, f.lastErrAt = "acquiring lock: "+err.Error(), now
			t.mu.Unlock()
			if err.Error() != lastErr {
				lastErr = err.Error()
				g.log.Warn("singleton task cannot acquire its lock; retrying", "task", t.name, "lock", sc.lockName, "err", err)
			}
		}
		if !t.sleep(g.ctx, sc.acquireEvery) {
			return nil, false
		}
	}
}

// takeLease installs a new lease and starts renewing it.
func (t *task) takeLease(lease Lease) context.Context {
	g := t.g
	sc := t.single
	lctx, cancel := context.WithCancelCause(g.ctx)
	lctx = context.WithValue(lctx, fencingKey{}, lease.Token()) // for FencingToken
	now := g.s.clock.Now()
	t.mu.Lock()
	sc.lease, sc.leaseCtx, sc.leaseCancel = lease, lctx, cancel
	sc.renewedAt, sc.token = now, lease.Token()
	if sc.renewTimer == nil {
		sc.renewTimer = g.s.clock.AfterFunc(sc.ttl/3, t.onRenew)
	} else {
		sc.renewTimer.Reset(sc.ttl / 3)
	}
	t.mu.Unlock()
	g.log.Info("singleton task acquired its lock", "task", t.name, "lock", sc.lockName, "token", lease.Token())
	g.emit(EventLeaseAcquired{Group: g.s.name, Task: t.name, Lock: sc.lockName, Token: lease.Token()})
	return lctx
}

// onRenew renews the lease, in a timer callback every ttl/3.
func (t *task) onRenew() {
	g := t.g
	if !g.enter() {
		return
	}
	defer g.leave()
	sc := t.single
	t.mu.Lock()
	lease, lctx, renewedAt := sc.lease, sc.leaseCtx, sc.renewedAt
	t.mu.Unlock()
	if lease == nil || lctx.Err() != nil {
		return
	}
	// The renewal may cross the network; bound it so that a failed try
	// still leaves time to stop before the lock store expires the lease.
	rctx, cancel := context.WithTimeout(lctx, sc.ttl/6)
	err := lease.Renew(rctx)
	cancel()
	now := g.s.clock.Now()
	if lctx.Err() != nil {
		return // released meanwhile
	}
	if err == nil {
		t.mu.Lock()
		if sc.lease == lease {
			sc.renewedAt = now
			sc.renewTimer.Reset(sc.ttl / 3)
		}
		t.mu.Unlock()
		return
	}
	// Retry only if the next try (in ttl/3, bounded by ttl/6) still ends
	// before the lease can expire in the store: otherwise another instance
	// may take the lock while this one still runs the task.
	if !errors.Is(err, ErrLeaseLost) && now.Sub(renewedAt) < sc.ttl/2 {
		g.log.Warn("singleton task could not renew its lease; retrying", "task", t.name, "lock", sc.lockName, "err", err)
		t.mu.Lock()
		if sc.lease == lease {
			sc.renewTimer.Reset(sc.ttl / 3)
		}
		t.mu.Unlock()
		return
	}
	if !errors.Is(err, ErrLeaseLost) {
		err = fmt.Errorf("%w: not renewed for %v: %w", ErrLeaseLost, now.Sub(renewedAt), err)
	}
	t.loseLease(lease, err)
}

// loseLease cancels the work the lease protected.
func (t *task) loseLease(lease Lease, err error) {
	g := t.g
	sc := t.single
	cause := fmt.Errorf("task %q lock %q: %w", t.name, sc.lockName, err)
	t.mu.Lock()
	if sc.lease != lease {
		t.mu.Unlock()
		return
	}
	cancel := sc.leaseCancel
	if t.running {
		t.armGraceLocked(cause)
	}
	t.mu.Unlock()
	g.log.Warn("singleton task lost its lock; going inactive", "task", t.name, "lock", sc.lockName, "err", err)
	g.emit(EventLeaseLost{Group: g.s.name, Task: t.name, Lock: sc.lockName, Token: lease.Token(), Err: err})
	cancel(cause)
}

// dropLease stops renewing and releases the lease, if any. Called by the
// task's goroutine when the lease was lost and when the task stops.
func (t *task) dropLease() {
	sc := t.single
	if sc == nil {
		return
	}
	t.mu.Lock()
	lease, cancel := sc.lease, sc.leaseCancel
	sc.lease, sc.leaseCtx, sc.leaseCancel, sc.token = nil, nil, nil, 0
	if sc.renewTimer != nil {
		sc.renewTimer.Stop()
	}
	t.mu.Unlock()
	if lease == nil {
		return
	}
	cancel(nil)
	releaseLease(t.g.ctx, lease, sc.ttl)
}

// releaseLease gives a lease back, bounded in time, even though ctx (the
// group's) may have ended: releasing is what lets another instance take over
// at once.
func releaseLease(ctx context.Context, lease Lease, ttl time.Duration) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(ttl/3, time.Second))
	defer cancel()
	_ = lease.Release(rctx) // best effort: an unreleased lease expires after its TTL
}
