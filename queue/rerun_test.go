package queue

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A job whose worker stops mid-job, ten times in a row, is handed back
// each time without using up an attempt: with MaxDeliver 2 it would be
// dead-lettered after the second stop otherwise.
func TestHandBackKeepsAttempt(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "deploys", Config{MaxDeliver: 2})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, []byte("long"), WithID("long")); err != nil {
		t.Fatal(err)
	}
	var handedBack atomic.Int64
	defer c.Observe(func(e Event) {
		if _, ok := e.(JobHandedBack); ok {
			handedBack.Add(1)
		}
	})()
	var finish atomic.Bool
	attempts := make(chan int, 16)
	h := func(ctx context.Context, j *Job) error {
		attempts <- j.Attempt
		if finish.Load() {
			return nil
		}
		<-ctx.Done() // a long job, cut short by the drain timeout
		return context.Cause(ctx)
	}
	const deploys = 10
	for i := range deploys {
		stop := startWorker(t, ctx, q, h, WorkerOptions{DrainTimeout: 10 * time.Millisecond})
		if a := recv(t, attempts, "the job started"); a != 1 {
			t.Fatalf("deploy %d: attempt %d, want 1", i, a)
		}
		stop()
	}
	if n := handedBack.Load(); n != deploys {
		t.Fatalf("%d hand-backs, want %d", n, deploys)
	}
	finish.Store(true)
	startWorker(t, ctx, q, h, WorkerOptions{})
	if a := recv(t, attempts, "the last run"); a != 1 {
		t.Fatalf("last run: attempt %d, want 1", a)
	}
	waitFor(t, "the job done", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
	if dl, err := q.DeadLetters(ctx, 0); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %+v, %v", dl, err)
	}
}

func TestSnoozeKeepsAttempt(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "snoozy", Config{MaxDeliver: 1, TrackStatus: true})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, []byte("x"), WithID("nap"), WithPriority(High)); err != nil {
		t.Fatal(err)
	}
	type run struct {
		attempt int
		at      time.Time
		due     time.Time
	}
	runs := make(chan run, 8)
	var n atomic.Int64
	var snoozed []JobSnoozed
	var mu sync.Mutex
	defer c.Observe(func(e Event) {
		if s, ok := e.(JobSnoozed); ok {
			mu.Lock()
			snoozed = append(snoozed, s)
			mu.Unlock()
		}
	})()
	const naps = 3
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		runs <- run{j.Attempt, time.Now(), j.Due}
		if n.Add(1) <= naps {
			return Snooze(200 * time.Millisecond)
		}
		return nil
	}, WorkerOptions{})
	var last time.Time
	for i := range naps + 1 {
		r := recv(t, runs, "a run")
		if r.attempt != 1 {
			t.Fatalf("run %d: attempt %d, want 1 (a snooze must not use one up)", i, r.attempt)
		}
		if i > 0 {
			if r.at.Sub(last) < 200*time.Millisecond || r.at.Before(r.due) {
				t.Fatalf("run %d started %v after the snooze (due %v), want at least 200ms", i, r.at.Sub(last), r.due)
			}
		}
		last = r.at
		if i == 0 {
			waitFor(t, "scheduled status", 5*time.Second, func() bool { return jobState(t, q, "nap") == StateScheduled })
		}
	}
	waitFor(t, "succeeded", 5*time.Second, func() bool { return jobState(t, q, "nap") == StateSucceeded })
	mu.Lock()
	defer mu.Unlock()
	if len(snoozed) != naps || snoozed[naps-1].Snoozes != naps || snoozed[0].Priority != High {
		t.Fatalf("snooze events %+v", snoozed)
	}
}

func TestSnoozeBound(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "insomnia", Config{MaxSnoozes: 2})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, nil, WithID("forever")); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	startWorker(t, ctx, q, func(context.Context, *Job) error {
		runs.Add(1)
		return Snooze(time.Millisecond)
	}, WorkerOptions{})
	var dl []DeadLetter
	waitFor(t, "dead-lettered for snoozing too often", 10*time.Second, func() bool {
		dl, _ = q.DeadLetters(ctx, 0)
		return len(dl) == 1
	})
	if !strings.Contains(dl[0].Error, "MaxSnoozes") || dl[0].ID != "forever" || runs.Load() != 3 {
		t.Fatalf("dead letter %+v after %d runs; want one naming MaxSnoozes after 3 runs", dl[0], runs.Load())
	}
}

func TestSnoozeBadDelayIsAFailure(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "badnap", Config{MaxDeliver: 1})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, nil); err != nil {
		t.Fatal(err)
	}
	startWorker(t, ctx, q, func(context.Context, *Job) error { return Snooze(0) }, WorkerOptions{})
	var dl []DeadLetter
	waitFor(t, "dead-lettered", 10*time.Second, func() bool {
		dl, _ = q.DeadLetters(ctx, 0)
		return len(dl) == 1
	})
	if !strings.Contains(dl[0].Error, "must be positive") {
		t.Fatalf("error %q, want it to say the delay must be positive", dl[0].Error)
	}
}
