package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// An observer sees every step of a job's life, with the facts a metrics
// package needs; removing it stops the events.
func TestObserveJobEvents(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "observed", Config{MaxDeliver: 2, RetryBase: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	ctx := context.Background()
	var mu sync.Mutex
	var seen []Event
	remove := c.Observe(func(ev Event) { mu.Lock(); seen = append(seen, ev); mu.Unlock() })
	events := func() []Event { mu.Lock(); defer mu.Unlock(); return append([]Event(nil), seen...) }

	okID, _ := q.Enqueue(ctx, []byte("ok"), WithPriority(High))
	badID, _ := q.Enqueue(ctx, []byte("bad"))
	boom := errors.New("boom")
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		if string(j.Payload) == "bad" {
			return boom
		}
		return nil
	}, WorkerOptions{})
	waitFor(t, "the bad job dead-lettered", 5*time.Second, func() bool {
		for _, ev := range events() {
			if _, ok := ev.(JobDeadLettered); ok {
				return true
			}
		}
		return false
	})
	var started, succeeded, failed, dead int
	for _, ev := range events() {
		if ev.QueueName() != "observed" {
			t.Fatalf("event of queue %q", ev.QueueName())
		}
		switch e := ev.(type) {
		case JobStarted:
			started++
		case JobSucceeded:
			succeeded++
			if e.ID != okID || e.Priority != High || e.Attempt != 1 {
				t.Fatalf("succeeded %+v", e)
			}
		case JobFailed:
			failed++
			if e.ID != badID || !errors.Is(e.Err, boom) || e.RetryIn <= 0 {
				t.Fatalf("failed %+v", e)
			}
		case JobDeadLettered:
			dead++
			if e.ID != badID || e.Attempts != 2 || !errors.Is(e.Err, boom) {
				t.Fatalf("dead %+v", e)
			}
		}
	}
	if started != 3 || succeeded != 1 || failed != 1 || dead != 1 {
		t.Fatalf("started %d, succeeded %d, failed %d, dead %d; want 3, 1, 1, 1", started, succeeded, failed, dead)
	}
	remove()
	remove() // idempotent
	n := len(events())
	done := make(chan struct{})
	q2 := testQueue(t, c, "unobserved", Config{})
	startWorker(t, ctx, q2, func(context.Context, *Job) error { close(done); return nil }, WorkerOptions{})
	q2.Enqueue(ctx, []byte("x"))
	recv(t, done, "a job after the observer was removed")
	if len(events()) != n {
		t.Fatal("events reached a removed observer")
	}
}

// An observer added to the Provider before any Client call sees the jobs
// of the Client made later.
func TestProviderObserveBeforeClient(t *testing.T) {
	p, err := NewProvider(Options{NATS: NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	got := make(chan Event, 8)
	remove := p.Observe(func(ev Event) {
		if _, ok := ev.(JobSucceeded); ok {
			got <- ev
		}
	})
	defer remove()
	c, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q := testQueue(t, c, "early", Config{})
	startWorker(t, context.Background(), q, func(context.Context, *Job) error { return nil }, WorkerOptions{})
	id, _ := q.Enqueue(context.Background(), []byte("x"))
	if ev := recv(t, got, "the job's success"); ev.JobID() != id {
		t.Fatalf("event for %s, want %s", ev.JobID(), id)
	}
}
