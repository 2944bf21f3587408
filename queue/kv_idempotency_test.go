package queue

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func testIdempotency(t testing.TB, c *Client, o IdempotencyOptions) *Idempotency {
	t.Helper()
	id, err := c.Idempotency(kvCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// The same job delivered to two instances at once: fn runs once; the loser
// is told the key is in progress, and its retry after the winner finished
// is skipped.
func TestIdempotencyConcurrentRunsOnce(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	a := testIdempotency(t, c, IdempotencyOptions{Owner: "a"})
	b := testIdempotency(t, peerClient(t, c), IdempotencyOptions{Owner: "b"})

	var runs atomic.Int64
	release := make(chan struct{})
	fn := func(context.Context) error {
		runs.Add(1)
		<-release
		return nil
	}
	type result struct {
		ran bool
		err error
	}
	results := make(chan result, 2)
	var wg sync.WaitGroup
	for _, id := range []*Idempotency{a, b} {
		wg.Go(func() {
			ran, err := id.Do(ctx, "order-42", fn)
			results <- result{ran, err}
		})
	}
	// Exactly one of them is refused while the other runs.
	loser := recv(t, results, "the losing Do")
	mustErrIs(t, loser.err, ErrInProgress)
	if loser.ran {
		t.Fatal("the refused Do says it ran")
	}
	close(release)
	wg.Wait()
	if w := <-results; !w.ran || w.err != nil {
		t.Fatalf("winner: ran %v, err %v; want true, nil", w.ran, w.err)
	}
	for _, id := range []*Idempotency{a, b} {
		ran, err := id.Do(ctx, "order-42", fn)
		if ran || err != nil {
			t.Fatalf("Do of a done key: ran %v, err %v; want false, nil", ran, err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times; want 1", n)
	}
}

// A failed run gives the key up at once: the retry runs fn, and a success
// is then remembered.
func TestIdempotencyFailedRunIsRetried(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	id := testIdempotency(t, c, IdempotencyOptions{})
	boom := errors.New("boom")
	ran, err := id.Do(ctx, "k", func(context.Context) error { return boom })
	if !ran || !errors.Is(err, boom) {
		t.Fatalf("failing fn: ran %v, err %v; want true, boom", ran, err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic not propagated")
			}
		}()
		_, _ = id.Do(ctx, "k", func(context.Context) error { panic("kaboom") })
	}()
	var runs int
	ran, err = id.Do(ctx, "k", func(context.Context) error { runs++; return nil })
	if !ran || err != nil || runs != 1 {
		t.Fatalf("retry: ran %v, err %v, runs %d; want true, nil, 1", ran, err, runs)
	}
	ran, err = id.Do(ctx, "k", func(context.Context) error { runs++; return nil })
	if ran || err != nil || runs != 1 {
		t.Fatalf("after success: ran %v, err %v, runs %d; want false, nil, 1", ran, err, runs)
	}
}

// A runner that crashed holding a claim blocks others only until the claim
// times out (server-side TTL); then another runner takes the key over.
func TestIdempotencyCrashedClaimIsTakenOver(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	id := testIdempotency(t, c, IdempotencyOptions{ClaimTimeout: time.Second})
	// The dead runner's claim, as Do writes it, never renewed.
	dead, _ := json.Marshal(idemValue{State: idemRunning, Owner: "dead-runner", ID: "x", At: time.Now().UTC()})
	start := time.Now()
	if _, err := id.kv.Create(ctx, "job-7", dead, jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	var runs int
	_, err := id.Do(ctx, "job-7", func(context.Context) error { runs++; return nil })
	mustErrIs(t, err, ErrInProgress)
	if !strings.Contains(err.Error(), "dead-runner") {
		t.Fatalf("error %q does not name the claim's owner", err)
	}
	waitFor(t, "the crashed claim to be taken over", 15*time.Second, func() bool {
		ran, err := id.Do(ctx, "job-7", func(context.Context) error { runs++; return nil })
		if err != nil && !errors.Is(err, ErrInProgress) {
			t.Fatal(err)
		}
		return ran
	})
	if since := time.Since(start); since < time.Second || runs != 1 {
		t.Fatalf("taken over after %v with %d runs; want after the 1s claim timeout, 1 run", since, runs)
	}
}

// A live runner keeps its claim past the claim timeout: a long fn is not
// run twice.
func TestIdempotencyLongRunKeepsClaim(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	a := testIdempotency(t, c, IdempotencyOptions{ClaimTimeout: time.Second, Owner: "a"})
	b := testIdempotency(t, peerClient(t, c), IdempotencyOptions{ClaimTimeout: time.Second, Owner: "b"})
	running := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Do(ctx, "long", func(ctx context.Context) error {
			close(running)
			select {
			case <-stop:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		done <- err
	}()
	recv(t, running, "a's fn to start")
	end := time.Now().Add(3 * time.Second) // three claim timeouts
	for time.Now().Before(end) {
		ran, err := b.Do(ctx, "long", func(context.Context) error { return nil })
		if ran || !errors.Is(err, ErrInProgress) {
			t.Fatalf("b during a's long run: ran %v, err %v; want ErrInProgress", ran, err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case err := <-done:
			t.Fatalf("a's run ended early: %v", err)
		}
	}
	close(stop)
	if err := recv(t, done, "a's Do"); err != nil {
		t.Fatal(err)
	}
	if ran, err := b.Do(ctx, "long", func(context.Context) error { return nil }); ran || err != nil {
		t.Fatalf("b after a finished: ran %v, err %v; want skipped", ran, err)
	}
}

func TestIdempotencyBadInput(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	id := testIdempotency(t, c, IdempotencyOptions{})
	called := false
	_, err := id.Do(ctx, "no spaces", func(context.Context) error { called = true; return nil })
	mustErrIs(t, err, ErrBadKey)
	if called || !strings.Contains(err.Error(), `"no spaces"`) {
		t.Fatalf("called %v, err %q; want fn not called and the key named", called, err)
	}
	if _, err := c.Idempotency(ctx, IdempotencyOptions{TTL: -time.Second}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("negative TTL: %v", err)
	}
}
