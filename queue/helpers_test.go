package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// testClient starts an embedded server in a temp dir (interval sync: the
// tests do not need fsync) and returns its provider and client.
func testClient(t testing.TB) (*Provider, *Client) {
	t.Helper()
	p, err := NewProvider(Options{NATS: NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func testQueue(t testing.TB, c *Client, name string, cfg Config) *Queue {
	t.Helper()
	q, err := c.Queue(context.Background(), name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// startWorker runs q.Work in a goroutine; the returned stop cancels it and
// waits for Work to return. Cleanup stops it too.
func startWorker(t testing.TB, ctx context.Context, q *Queue, h Handler, o WorkerOptions) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Work(ctx, h, o) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Work: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

// recv waits for one value from ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// streamMsgs is the number of jobs stored at every level of q.
func streamMsgs(t testing.TB, q *Queue) uint64 {
	t.Helper()
	var n uint64
	for l := range q.cfg.Levels {
		s, err := q.c.js.Stream(context.Background(), levelStream(q.name, l))
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += info.State.Msgs
	}
	return n
}

func mustErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one wrapping %v", err, target)
	}
}
