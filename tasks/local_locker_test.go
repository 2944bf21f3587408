package tasks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
)

func TestLocalLocker(t *testing.T) {
	ctx := context.Background()
	clk := clockwork.NewFakeClockAt(t0)
	l := tasks.NewLocalLocker(clk)
	const ttl = 10 * time.Second

	a, err := l.Acquire(ctx, "job", "a", ttl)
	if err != nil || a.Token() != 1 {
		t.Fatalf("first acquire: %v, token %v", err, a)
	}
	_, err = l.Acquire(ctx, "job", "b", ttl)
	if !errors.Is(err, tasks.ErrLockHeld) || !strings.Contains(err.Error(), `held by "a"`) {
		t.Fatalf("acquire of a held lock = %v; want ErrLockHeld naming the holder", err)
	}
	if other, err := l.Acquire(ctx, "other-job", "b", ttl); err != nil || other.Token() != 1 {
		t.Fatalf("locks are independent by name: %v", err)
	}

	// Renewal extends the lease from now.
	clk.Advance(8 * time.Second)
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(8 * time.Second) // 16s: alive thanks to the renewal
	if _, err := l.Acquire(ctx, "job", "b", ttl); !errors.Is(err, tasks.ErrLockHeld) {
		t.Fatalf("acquire within a renewed lease = %v; want ErrLockHeld", err)
	}

	// Expiry by the clock: another holder takes over with a greater token,
	// and the old lease is lost for good.
	clk.Advance(2 * time.Second) // 18s = renewal at 8s + ttl
	b, err := l.Acquire(ctx, "job", "b", ttl)
	if err != nil || b.Token() != 2 {
		t.Fatalf("acquire after expiry: %v", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, tasks.ErrLeaseLost) {
		t.Fatalf("renew of a taken-over lease = %v; want ErrLeaseLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("release of a lost lease = %v; want nil", err)
	}
	if _, err := l.Acquire(ctx, "job", "c", ttl); !errors.Is(err, tasks.ErrLockHeld) {
		t.Fatal("releasing a lost lease freed the new holder's lock")
	}

	// An expired lease cannot be renewed even if nobody took the lock.
	clk.Advance(ttl)
	if err := b.Renew(ctx); !errors.Is(err, tasks.ErrLeaseLost) {
		t.Fatalf("renew after expiry = %v; want ErrLeaseLost", err)
	}

	// Release frees the lock at once; it is idempotent.
	c, err := l.Acquire(ctx, "job", "c", ttl)
	if err != nil || c.Token() != 3 {
		t.Fatalf("acquire: %v", err)
	}
	for range 2 {
		if err := c.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d, err := l.Acquire(ctx, "job", "d", ttl)
	if err != nil || d.Token() != 4 {
		t.Fatalf("acquire after release: %v; want token 4", err)
	}
	if err := c.Renew(ctx); !errors.Is(err, tasks.ErrLeaseLost) {
		t.Fatalf("renew after release = %v; want ErrLeaseLost", err)
	}

	// The same holder acquiring again gets a new token; its old lease is lost.
	d2, err := l.Acquire(ctx, "job", "d", ttl)
	if err != nil || d2.Token() != 5 {
		t.Fatalf("re-acquire by the holder: %v", err)
	}
	if err := d.Renew(ctx); !errors.Is(err, tasks.ErrLeaseLost) {
		t.Fatalf("renew of the replaced lease = %v; want ErrLeaseLost", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Acquire(cancelled, "x", "a", ttl); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a done context = %v", err)
	}
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", ttl}, {"x", "", ttl}, {"x", "a", 0}} {
		if _, err := l.Acquire(ctx, bad.name, bad.holder, bad.ttl); err == nil {
			t.Errorf("Acquire(%q, %q, %v) accepted", bad.name, bad.holder, bad.ttl)
		}
	}
}
