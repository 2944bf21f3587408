package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/lease"
)

// On a 3-server cluster with R3 buckets, where the server reports revision
// conflicts with a different error code (10164), lock, checkpoint and
// idempotency conflicts are still recognised; the two instances talk to
// different servers.
func TestKVClusterR3(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	srvs := startCluster(t)
	client := func(url string) *Client {
		p, err := NewProvider(Options{NATS: NATS{URL: url}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		c, err := p.Client(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, cb := client(srvs[0].ClientURL()), client(srvs[1].ClientURL())
	ctx := kvCtx(t)
	var a, b *Locker
	waitFor(t, "R3 lock buckets", 20*time.Second, func() bool {
		var err error
		if a == nil {
			a, _ = ca.Locker(ctx, LockerOptions{Replicas: 3})
		}
		b, err = cb.Locker(ctx, LockerOptions{Replicas: 3})
		return a != nil && err == nil
	})

	la, err := a.Acquire(ctx, "r3lock", "a", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, "r3lock", "b", 10*time.Second)
	mustErrIs(t, err, lease.ErrLockHeld)
	if err := la.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Acquire(ctx, "r3lock", "b", 10*time.Second)
	if err != nil || lb.Token() <= la.Token() {
		t.Fatalf("b acquires after release: %v (tokens %d after %d)", err, lb.Token(), la.Token())
	}
	mustErrIs(t, la.Renew(ctx), lease.ErrLeaseLost)

	var cpa, cpb *Checkpoints
	waitFor(t, "R3 checkpoint bucket", 20*time.Second, func() bool {
		var err error
		if cpa == nil {
			cpa, _ = ca.Checkpoints(ctx, CheckpointOptions{Replicas: 3})
		}
		cpb, err = cb.Checkpoints(ctx, CheckpointOptions{Replicas: 3})
		return cpa != nil && err == nil
	})
	r1, err := cpa.Save(ctx, "job", []byte("1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cpb.Save(ctx, "job", []byte("b"), 0); !errors.Is(err, ErrCheckpointConflict) {
		t.Fatalf("second first save: %v; want ErrCheckpointConflict", err)
	}
	if _, err := cpb.Save(ctx, "job", []byte("2"), r1); err != nil {
		t.Fatal(err)
	}
	_, err = cpa.Save(ctx, "job", []byte("stale"), r1)
	mustErrIs(t, err, ErrCheckpointConflict)

	var ia, ib *Idempotency
	waitFor(t, "R3 idempotency bucket", 20*time.Second, func() bool {
		var err error
		if ia == nil {
			ia, _ = ca.Idempotency(ctx, IdempotencyOptions{Replicas: 3})
		}
		ib, err = cb.Idempotency(ctx, IdempotencyOptions{Replicas: 3})
		return ia != nil && err == nil
	})
	runs := 0
	if ran, err := ia.Do(ctx, "once", func(context.Context) error { runs++; return nil }); !ran || err != nil {
		t.Fatalf("first Do: %v, %v", ran, err)
	}
	if ran, err := ib.Do(ctx, "once", func(context.Context) error { runs++; return nil }); ran || err != nil || runs != 1 {
		t.Fatalf("second Do on the other server: ran %v, err %v, runs %d; want skipped", ran, err, runs)
	}
}
