package queue

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/lease"
)

// Two instances on two connections: one wins, the other is told who holds
// the lock; after Release the other acquires at once with a greater token.
func TestLockOneHolderThenRelease(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	a, b := testLocker(t, c), testLocker(t, peerClient(t, c))

	la, err := a.Acquire(ctx, "grp/leader", "instance-a", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, "grp/leader", "instance-b", 10*time.Second)
	mustErrIs(t, err, lease.ErrLockHeld)
	if !strings.Contains(err.Error(), `"instance-a"`) {
		t.Fatalf("error %q does not name the holder instance-a", err)
	}
	if err := la.Renew(ctx); err != nil {
		t.Fatalf("renew a live lease: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	lb, err := b.Acquire(ctx, "grp/leader", "instance-b", 10*time.Second)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if lb.Token() <= la.Token() {
		t.Fatalf("token %d after release; want greater than %d", lb.Token(), la.Token())
	}
	mustErrIs(t, la.Renew(ctx), lease.ErrLeaseLost)
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A holder that stops renewing loses the lock after its TTL (on the
// server's clock); the other instance then acquires, the stale holder's
// Renew reports ErrLeaseLost and its Release is a quiet no-op that leaves
// the new holder's lock alone.
func TestLockExpiresWithoutRenewal(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	a, b := testLocker(t, c), testLocker(t, peerClient(t, c))

	acquired := time.Now() // before the server stamps the acquiring write
	la, err := a.Acquire(ctx, "expiring", "a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var lb lease.Lease
	waitFor(t, "b to acquire the expired lock", 15*time.Second, func() bool {
		lb, err = b.Acquire(ctx, "expiring", "b", 10*time.Second)
		if err != nil && !errors.Is(err, lease.ErrLockHeld) {
			t.Fatal(err)
		}
		return err == nil
	})
	if held := time.Since(acquired); held < time.Second {
		t.Fatalf("lock taken over after %v; want at least the 1s TTL", held)
	}
	if lb.Token() <= la.Token() {
		t.Fatalf("token %d after takeover; want greater than %d", lb.Token(), la.Token())
	}
	mustErrIs(t, la.Renew(ctx), lease.ErrLeaseLost)
	if err := la.Release(ctx); err != nil {
		t.Fatalf("releasing a lost lease: %v", err)
	}
	if _, err := a.Acquire(ctx, "expiring", "a", time.Second); !errors.Is(err, lease.ErrLockHeld) {
		t.Fatalf("a's stale release freed b's lock: acquire err %v", err)
	}
	if err := lb.Renew(ctx); err != nil {
		t.Fatalf("b renews: %v", err)
	}
}

// A renewed lease outlives its TTL: renewal resets the server-side expiry.
func TestLockRenewKeepsIt(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	a, b := testLocker(t, c), testLocker(t, peerClient(t, c))
	la, err := a.Acquire(ctx, "renewed", "a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if err := la.Renew(ctx); err != nil {
			t.Fatalf("renew: %v", err)
		}
		if _, err := b.Acquire(ctx, "renewed", "b", time.Second); !errors.Is(err, lease.ErrLockHeld) {
			t.Fatalf("b acquire on a renewed lock: %v", err)
		}
		select { // renew at about a third of the TTL, as tasks does
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// Many instances race for one lock: exactly one wins.
func TestLockContention(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	const n = 8
	lockers := make([]*Locker, n)
	for i := range lockers {
		lockers[i] = testLocker(t, peerClient(t, c))
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []int
		others []error
	)
	start := make(chan struct{})
	for i, l := range lockers {
		wg.Go(func() {
			<-start
			_, err := l.Acquire(ctx, "contended", "racer", 30*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won = append(won, i)
			} else if !errors.Is(err, lease.ErrLockHeld) {
				others = append(others, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(won) != 1 || len(others) != 0 {
		t.Fatalf("winners %v, unexpected errors %v; want exactly one winner", won, others)
	}
}

func TestLockBadInput(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	l := testLocker(t, c)
	for _, name := range []string{"", "has space", ".lead", "trail.", "a..b", "wild*", strings.Repeat("x", 300)} {
		_, err := l.Acquire(ctx, name, "h", time.Second)
		mustErrIs(t, err, ErrBadKey)
	}
	if _, err := l.Acquire(ctx, "ok", "h", 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
	if _, err := NewLocker(ctx, c.JetStream(), LockerOptions{Bucket: "bad bucket"}); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad bucket: %v", err)
	}
}
