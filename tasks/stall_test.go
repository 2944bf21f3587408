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

// A run silent past its stall limit is cancelled with cause ErrStalled and
// the task restarts.
func TestStalledTaskRestarts(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook, BackoffBase: -1})
	started := make(chan int, 2)
	causes := make(chan error, 2)
	run := 0
	mustAdd(t, g.Go("stuck", func(ctx context.Context) error {
		run++
		started <- run
		<-ctx.Done()
		if run == 1 {
			causes <- context.Cause(ctx)
		}
		return ctx.Err()
	}, tasks.StallAfter(10*time.Second)))

	recv(t, started, "first run")
	block(t, clk, 1) // the stall timer
	clk.Advance(9 * time.Second)
	if st := taskStatus(t, g, "stuck"); st.State != tasks.StateRunning {
		t.Fatalf("state %s before the limit; want running", st.State)
	}
	clk.Advance(time.Second)
	cause := recv(t, causes, "stall cancellation")
	if !errors.Is(cause, tasks.ErrStalled) || !strings.Contains(cause.Error(), `"stuck"`) {
		t.Fatalf("cause %v; want ErrStalled naming the task", cause)
	}
	if got := recv(t, started, "restart after the stall"); got != 2 {
		t.Fatalf("run %d; want 2", got)
	}
	if s := waitEvents[tasks.EventStall](t, ev, "stuck", 1)[0]; s.Silent != 10*time.Second {
		t.Fatalf("stall event %+v; want silent for 10s", s)
	}
	f := waitEvents[tasks.EventFailure](t, ev, "stuck", 1)[0]
	if !errors.Is(f.Err, tasks.ErrStalled) {
		t.Fatalf("failure %v; want the stall reported as the run's error", f.Err)
	}
	if st := taskStatus(t, g, "stuck"); st.Restarts != 1 || !strings.Contains(st.LastError, "stalled") {
		t.Fatalf("status %+v; want 1 restart with the stall as last error", st)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// A task that beats more often than its limit is never stalled, however
// long it runs.
func TestBeatingTaskNeverStalls(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})
	beat, beaten := make(chan struct{}), make(chan struct{})
	mustAdd(t, g.Go("alive", func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-beat:
				tasks.Beat(ctx)
				beaten <- struct{}{}
			}
		}
	}, tasks.StallAfter(10*time.Second)))

	for range 10 {
		block(t, clk, 1) // the stall timer, re-armed after each check
		clk.Advance(6 * time.Second)
		send(t, beat, struct{}{}, "beat")
		recv(t, beaten, "beat done")
	}
	st := taskStatus(t, g, "alive")
	if st.State != tasks.StateRunning || st.Runs != 1 || count[tasks.EventStall](ev, "alive") != 0 {
		t.Fatalf("status %+v, events:%v; want one run never stalled", st, ev)
	}
	if !st.LastHeartbeat.Equal(clk.Now()) {
		t.Fatalf("last heartbeat %v; want %v", st.LastHeartbeat, clk.Now())
	}
	tasks.Beat(context.Background()) // outside a task: nothing happens
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// A stalled run that ignores its cancellation past the grace period ends
// the group: Wait returns a *FatalError wrapping ErrAbandoned and the stall.
func TestIgnoredStallEscalates(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	g := tasks.NewGroup(context.Background(), tasks.Options{Clock: clk, OnEvent: ev.hook, Grace: 5 * time.Second})
	release := make(chan struct{})
	defer close(release) // let the abandoned goroutine end before goleak looks
	started := make(chan struct{})
	mustAdd(t, g.Go("deaf", func(context.Context) error {
		close(started)
		<-release // ignores its context
		return nil
	}, tasks.StallAfter(10*time.Second)))
	others := make(chan error, 1)
	otherStarted := make(chan struct{})
	mustAdd(t, g.Go("other", func(ctx context.Context) error {
		close(otherStarted)
		<-ctx.Done()
		others <- context.Cause(ctx)
		return nil
	}))

	recv(t, started, "run")
	recv(t, otherStarted, "other run")
	block(t, clk, 1)
	clk.Advance(10 * time.Second)
	waitEvents[tasks.EventStall](t, ev, "deaf", 1)
	if st := taskStatus(t, g, "deaf"); st.State != tasks.StateStalled {
		t.Fatalf("state %s; want stalled", st.State)
	}
	block(t, clk, 1) // the grace timer
	clk.Advance(5 * time.Second)

	err := wait(t, g)
	var fe *tasks.FatalError
	if !errors.As(err, &fe) || fe.Task != "deaf" || !errors.Is(err, tasks.ErrAbandoned) || !errors.Is(err, tasks.ErrStalled) {
		t.Fatalf("Wait = %v; want a *FatalError for deaf wrapping ErrAbandoned and ErrStalled", err)
	}
	if got := recv(t, others, "other task's cancellation"); got != err {
		t.Fatalf("other task's cause %v; want the fatal error", got)
	}
}

// When the group ends, a task that ignores cancellation past the grace
// period is abandoned and named by Wait, which no longer blocks on it; Stop
// with a deadline says which task it is still waiting for.
func TestIgnoredStopIsReported(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook, Grace: 5 * time.Second})
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	mustAdd(t, g.Go("deaf", func(context.Context) error {
		close(started)
		<-release
		return nil
	}))
	mustAdd(t, g.Go("polite", func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}))
	recv(t, started, "run")

	stopCtx, stopCancel := context.WithCancelCause(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- g.Stop(stopCtx) }()
	waitEvents[tasks.EventStopped](t, ev, "polite", 1)
	stopCancel(errors.New("deadline passed"))
	err := recv(t, stopped, "Stop")
	if err == nil || !strings.Contains(err.Error(), `"deaf" (running)`) || strings.Contains(err.Error(), "polite") ||
		!strings.Contains(err.Error(), "deadline passed") {
		t.Fatalf("Stop = %v; want an error naming only the task still running, with the deadline's cause", err)
	}
	block(t, clk, 1) // the group's grace timer
	clk.Advance(5 * time.Second)
	err = wait(t, g)
	if !errors.Is(err, tasks.ErrAbandoned) || !strings.Contains(err.Error(), `"deaf"`) {
		t.Fatalf("Wait = %v; want ErrAbandoned naming deaf", err)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after the end = %v", err)
	}
}
