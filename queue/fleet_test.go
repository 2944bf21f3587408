package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Three workers on two connections, each allowed 5 jobs at once, share a
// fleet cap of 2: never more than 2 handlers run at once, all jobs run.
func TestFleetConcurrencyCapsAllWorkers(t *testing.T) {
	_, c := testClient(t)
	cfg := Config{FleetConcurrency: 2, Levels: 2}
	q := testQueue(t, c, "fleet", cfg)
	other, err := peerClient(t, c).Queue(context.Background(), "fleet", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const jobs = 60
	msgs := make([]Message, jobs)
	for i := range msgs {
		msgs[i] = Message{Payload: fmt.Appendf(nil, "%d", i), Options: []EnqueueOption{WithPriority(Priority(i % 2))}}
	}
	if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var running, most atomic.Int64
	var done sync.WaitGroup
	done.Add(jobs)
	h := func(context.Context, *Job) error {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-time.After(5 * time.Millisecond) // the job's work
		running.Add(-1)
		done.Done()
		return nil
	}
	o := WorkerOptions{Concurrency: 5}
	startWorker(t, ctx, q, h, o)
	startWorker(t, ctx, q, h, o)
	startWorker(t, ctx, other, h, o)
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	recv(t, finished, "every job")
	if m := most.Load(); m > 2 {
		t.Fatalf("%d jobs ran at once; the fleet cap is 2", m)
	} else if m < 2 {
		t.Fatalf("at most %d job ran at once: the cap of 2 was never used, the test proves little", m)
	}
}

// A stopping worker gives its tokens back: another worker runs at the cap
// at once, not after AckWait.
func TestFleetTokensGivenBackOnStop(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "fleetstop", Config{FleetConcurrency: 1, AckWait: time.Minute})
	ctx := context.Background()
	started := make(chan string, 4)
	stopA := startWorker(t, ctx, q, func(ctx context.Context, j *Job) error {
		started <- "A"
		<-ctx.Done()
		return context.Cause(ctx)
	}, WorkerOptions{DrainTimeout: 10 * time.Millisecond})
	if _, err := q.Enqueue(ctx, nil); err != nil {
		t.Fatal(err)
	}
	recv(t, started, "worker A's job")
	stopA()
	startWorker(t, ctx, q, func(context.Context, *Job) error { started <- "B"; return nil }, WorkerOptions{})
	// recv's deadline (10s) is far below the minute of AckWait.
	if w := recv(t, started, "worker B's job, under the token A gave back"); w != "B" {
		t.Fatalf("started by %s", w)
	}
}

func TestFleetConcurrencyChanged(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	testQueue(t, c, "fleetch", Config{FleetConcurrency: 3})
	count := func() int {
		s, err := c.js.Stream(ctx, tokenStream("fleetch"))
		if err != nil {
			return -1
		}
		return int(s.CachedInfo().State.Msgs)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d tokens, want 3", n)
	}
	// Declaring again, from another process, makes no more.
	if _, err := peerClient(t, c).Queue(ctx, "fleetch", Config{FleetConcurrency: 3}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d tokens after a second declaration, want 3", n)
	}
	if _, err := c.UpdateQueue(ctx, "fleetch", Config{FleetConcurrency: 1}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d tokens after lowering the cap to 1", n)
	}
	if _, err := c.UpdateQueue(ctx, "fleetch", Config{}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != -1 {
		t.Fatalf("the token stream is left (%d tokens) after removing the cap", n)
	}
	if _, err := c.Queue(ctx, "fleetbad", Config{FleetConcurrency: -1}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("negative cap: %v", err)
	}
}

// A fleet-wide rate limit of 20 jobs per second with a burst of 5: two
// workers together never start more than 5 jobs in any quarter second.
func TestFleetRateLimit(t *testing.T) {
	_, c := testClient(t)
	cfg := Config{FleetRateLimit: 20, FleetRateBurst: 5}
	q := testQueue(t, c, "rated", cfg)
	other, err := peerClient(t, c).Queue(context.Background(), "rated", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const jobs = 30
	if _, err := q.EnqueueBatch(ctx, make([]Message, jobs)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var starts []time.Time
	all := make(chan struct{})
	h := func(context.Context, *Job) error {
		mu.Lock()
		defer mu.Unlock()
		if starts = append(starts, time.Now()); len(starts) == jobs {
			close(all)
		}
		return nil
	}
	startWorker(t, ctx, q, h, WorkerOptions{Concurrency: 8})
	startWorker(t, ctx, other, h, WorkerOptions{Concurrency: 8})
	recv(t, all, "every job started")
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(starts, time.Time.Compare)
	const window = 250 * time.Millisecond // burst/rate
	for i := 0; i+5 < len(starts); i++ {
		// 20ms of slack for the time between a token's spending and its
		// handler's first line.
		if gap := starts[i+5].Sub(starts[i]); gap < window-20*time.Millisecond {
			t.Fatalf("jobs %d..%d started within %v: more than 5 in a window of %v", i, i+5, gap, window)
		}
	}
	if took := starts[jobs-1].Sub(starts[0]); took < (jobs/5-1)*window-100*time.Millisecond {
		t.Fatalf("%d jobs started within %v, faster than 20 per second", jobs, took)
	}
}

func TestSchedulingSettingsValidated(t *testing.T) {
	for name, cfg := range map[string]Config{
		"negative rate":        {FleetRateLimit: -1},
		"burst without a rate": {FleetRateBurst: 5},
		"huge burst":           {FleetRateLimit: 1, FleetRateBurst: 10001},
		"huge fleet cap":       {FleetConcurrency: 10001},
		"negative snoozes":     {MaxSnoozes: -1},
	} {
		if _, err := resolve(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
	cfg, err := resolve(Config{FleetRateLimit: 2.5})
	if err != nil || cfg.FleetRateBurst != 3 {
		t.Fatalf("default burst for 2.5/s: %d, %v; want 3", cfg.FleetRateBurst, err)
	}
}
