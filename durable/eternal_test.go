package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/roletest"
)

// The cleanup's activity records each iteration it runs and how many
// runs overlap.
var cleanups struct {
	mu         sync.Mutex
	iterations []int
	running    atomic.Int64
	overlap    atomic.Int64 // most runs at once
}

func cleanupRun(_ context.Context, iteration int) error {
	n := cleanups.running.Add(1)
	defer cleanups.running.Add(-1)
	for {
		o := cleanups.overlap.Load()
		if n <= o || cleanups.overlap.CompareAndSwap(o, n) {
			break
		}
	}
	cleanups.mu.Lock()
	cleanups.iterations = append(cleanups.iterations, iteration)
	cleanups.mu.Unlock()
	return nil
}

func cleanupsSeen() []int {
	cleanups.mu.Lock()
	defer cleanups.mu.Unlock()
	return append([]int(nil), cleanups.iterations...)
}

// periodicCleanup is seed 004's eternal orchestration: run, wait on a
// durable timer, continue as new.
func periodicCleanup(ctx workflow.Context, iteration int) error {
	if _, err := workflow.ExecuteActivity[any](ctx, workflow.DefaultActivityOptions, cleanupRun, iteration).Get(ctx); err != nil {
		return err
	}
	if _, err := workflow.ScheduleTimer(ctx, 300*time.Millisecond).Get(ctx); err != nil {
		return err
	}
	return workflow.ContinueAsNew(ctx, iteration+1)
}

// instanceHub opens one "instance" of a role: a hub that works, on a
// shared server.
func instanceHub(t *testing.T, ctx context.Context, name string) (*durable.Hub, func()) {
	t.Helper()
	h, err := durable.Open(ctx, durable.ShortWait(durable.Options{Hub: name}))
	must(t, err)
	must(t, h.RegisterOrchestrator(periodicCleanup))
	must(t, h.RegisterActivity(cleanupRun))
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Work(wctx) }()
	var once sync.Once
	halt := func() {
		once.Do(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Work: %v", err)
			}
			h.Close()
		})
	}
	t.Cleanup(halt)
	return h, halt
}

func waitIterations(t *testing.T, n int) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s := cleanupsSeen(); len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %v iterations after 30s, want %d", cleanupsSeen(), n)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// Started by every instance under one ID, the eternal orchestration runs
// once across the fleet, one iteration after another, never two at once;
// it goes on after every instance restarted; terminated, it stops.
func TestEternalOrchestration(t *testing.T) {
	cleanups.mu.Lock()
	cleanups.iterations = nil
	cleanups.mu.Unlock()
	cleanups.overlap.Store(0)
	_, ctx := roletest.Queues(t)
	a, haltA := instanceHub(t, ctx, "fleet")
	b, haltB := instanceHub(t, ctx, "fleet")
	started := 0
	for _, h := range []*durable.Hub{a, b, a} {
		switch err := h.Start(ctx, periodicCleanup, durable.StartOptions{InstanceID: "cleanup"}, 0); {
		case err == nil:
			started++
		case !errors.Is(err, durable.ErrAlreadyRunning):
			t.Fatal(err)
		}
	}
	if started != 1 {
		t.Fatalf("%d starts succeeded, want 1", started)
	}
	waitIterations(t, 3)

	// Every instance stops; a new one carries on where they were.
	haltA()
	haltB()
	before := len(cleanupsSeen())
	c, _ := instanceHub(t, ctx, "fleet")
	if err := c.Start(ctx, periodicCleanup, durable.StartOptions{InstanceID: "cleanup"}, 0); !errors.Is(err, durable.ErrAlreadyRunning) {
		t.Fatalf("a start after the restart: %v, want ErrAlreadyRunning (the loop runs on)", err)
	}
	seen := waitIterations(t, before+3)
	for i, it := range seen {
		if it != i {
			t.Fatalf("iterations %v: each runs once, in order", seen)
		}
	}
	if o := cleanups.overlap.Load(); o != 1 {
		t.Fatalf("%d cleanups ran at once", o)
	}
	s, err := c.Status(ctx, "cleanup")
	must(t, err)
	if s.RuntimeStatus != durable.Running && s.RuntimeStatus != durable.Pending {
		t.Fatalf("status %+v", s)
	}

	must(t, c.Terminate(ctx, "cleanup", "maintenance"))
	s, err = c.Wait(within(t, ctx, 10*time.Second), "cleanup")
	must(t, err)
	if s.RuntimeStatus != durable.Terminated {
		t.Fatalf("status %+v", s)
	}
	stopped := len(cleanupsSeen())
	// Two periods later nothing more ran (an activity already running
	// when the terminate landed may finish: one more at most).
	<-time.After(700 * time.Millisecond)
	if n := len(cleanupsSeen()); n > stopped+1 {
		t.Fatalf("%d iterations after the terminate", n-stopped)
	}
}

// iterate is an eternal loop without the timer, to run many iterations
// quickly: an activity, then continue as new.
func iterate(ctx workflow.Context, n, until int) (int, error) {
	if _, err := workflow.ExecuteActivity[int](ctx, workflow.DefaultActivityOptions, step1, n).Get(ctx); err != nil {
		return n, err
	}
	if n+1 >= until {
		return n + 1, nil
	}
	return n, workflow.ContinueAsNew(ctx, n+1, until)
}

func step1(_ context.Context, n int) (int, error) { return n + 1, nil }

// Thousands of iterations keep the history and the stream bounded: each
// execution's history is removed when the next one starts.
func TestEternalHistoryStaysBounded(t *testing.T) {
	const iterations = 2000
	h, ctx := openHub(t, durable.Options{Hub: "bounded"}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(iterate))
		must(t, h.RegisterActivity(step1))
	})
	start := time.Now()
	must(t, h.Start(ctx, iterate, durable.StartOptions{InstanceID: "loop"}, 0, iterations))
	s, err := h.Wait(within(t, ctx, 2*time.Minute), "loop")
	must(t, err)
	if s.RuntimeStatus != durable.Completed || string(s.Output) != fmt.Sprint(iterations) {
		t.Fatalf("status %+v", s)
	}
	js, err := jetstream.New(connOf(t, ctx))
	must(t, err)
	st, err := js.Stream(ctx, "DURABLE_bounded")
	must(t, err)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter("durable.bounded.>"))
	must(t, err)
	// What is left: the last execution (its start, appends, commits) and
	// little else; each earlier one held as many.
	if info.State.Msgs > 20 || len(info.State.Subjects) > 10 {
		t.Fatalf("after %d iterations the stream holds %d messages on %d subjects: %v", iterations, info.State.Msgs, len(info.State.Subjects), info.State.Subjects)
	}
	t.Logf("%d iterations in %v; the stream holds %d messages", iterations, time.Since(start).Round(time.Millisecond), info.State.Msgs)
}
