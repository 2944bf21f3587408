package tasks_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
)

// Three tasks, one panics on every run: only it restarts, with a growing
// delay on the fake clock, while the other two keep working, never
// restarted.
func TestPanickingTaskRestartsAlone(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{
		Clock: clk, OnEvent: ev.hook,
		BackoffBase: time.Second, BackoffMax: time.Minute, MaxRestarts: -1,
	})

	var crashes atomic.Int64
	mustAdd(t, g.Go("crasher", func(context.Context) error {
		crashes.Add(1)
		panic("boom")
	}))
	var starts [2]atomic.Int64
	var feed, ack [2]chan int
	for i, name := range []string{"worker-0", "worker-1"} {
		feed[i], ack[i] = make(chan int), make(chan int)
		mustAdd(t, g.Go(name, func(ctx context.Context) error {
			starts[i].Add(1)
			for {
				select {
				case <-ctx.Done():
					return nil
				case v := <-feed[i]:
					ack[i] <- v // progress: one unit of work done
				}
			}
		}))
	}

	var prev time.Duration
	for k := 1; k <= 6; k++ {
		b := waitEvents[tasks.EventBackoff](t, ev, "crasher", k)[k-1]
		if b.Restarts != k {
			t.Fatalf("backoff %d: Restarts = %d", k, b.Restarts)
		}
		if b.Delay <= prev {
			t.Fatalf("backoff %d: delay %v not longer than the previous %v", k, b.Delay, prev)
		}
		prev = b.Delay
		if got := crashes.Load(); got != int64(k) {
			t.Fatalf("after backoff %d the crasher ran %d times", k, got)
		}
		// The others keep making progress while the crasher backs off.
		for i := range 2 {
			send(t, feed[i], k, "work")
			if got := recv(t, ack[i], "work done"); got != k {
				t.Fatalf("worker %d acknowledged %d, want %d", i, got, k)
			}
		}
		st := taskStatus(t, g, "crasher")
		if st.State != tasks.StateBackoff || st.Restarts != k || !st.NextRun.Equal(clk.Now().Add(b.Delay)) {
			t.Fatalf("crasher status %+v; want backoff, %d restarts, next run in %v", st, k, b.Delay)
		}
		block(t, clk, 1) // the crasher's backoff timer
		clk.Advance(b.Delay)
	}
	if len(waitEvents[tasks.EventPanic](t, ev, "crasher", 6)) != 6 {
		t.Fatal("panics not reported")
	}

	for i, name := range []string{"worker-0", "worker-1"} {
		st := taskStatus(t, g, name)
		if st.Restarts != 0 || st.Runs != 1 || st.State != tasks.StateRunning || starts[i].Load() != 1 {
			t.Fatalf("%s: status %+v, started %d times; want running, never restarted", name, st, starts[i].Load())
		}
	}
	st := taskStatus(t, g, "crasher")
	if !strings.Contains(st.LastPanic, "panic: boom") || !strings.Contains(st.LastPanic, "TestPanickingTaskRestartsAlone") {
		t.Fatalf("last panic %q; want the value and the frame that panicked", st.LastPanic)
	}
	if st.Panics < 1 || st.Panics > st.Restarts+1 {
		t.Fatalf("panics %d with %d restarts; every restart here followed a panic", st.Panics, st.Restarts)
	}
	if st.LastError != "panic: boom" {
		t.Fatalf("last error %q", st.LastError)
	}
	p := waitEvents[tasks.EventPanic](t, ev, "crasher", 1)[0]
	if p.Value != "boom" || !strings.Contains(p.Stack, "restart_test.go") {
		t.Fatalf("panic event %+v; want the value and the full stack", p)
	}

	cancel()
	if err := wait(t, g); err != nil {
		t.Fatalf("Wait = %v; want nil after the context ended", err)
	}
}

// A task that returns a fatal error, even wrapped, ends the group: every
// other task's context is cancelled with that cause and Wait returns a
// *FatalError naming the task, the same to every caller.
func TestFatalErrorEndsGroup(t *testing.T) {
	ctx := context.Background()
	g := tasks.NewGroup(ctx, tasks.Options{})
	declined := errors.New("card processor unreachable")
	release := make(chan struct{})
	mustAdd(t, g.Go("billing", func(context.Context) error {
		<-release
		return errors.Join(errors.New("charging"), tasks.Fatal(declined))
	}))
	causes := make(chan error, 1)
	bystanding := make(chan struct{})
	mustAdd(t, g.Go("bystander", func(ctx context.Context) error {
		close(bystanding)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil
	}))
	recv(t, bystanding, "bystander start")
	close(release)

	var errs [3]error
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = g.Wait() })
	}
	wg.Wait()
	err := errs[0]
	var fe *tasks.FatalError
	if !errors.As(err, &fe) || fe.Task != "billing" {
		t.Fatalf("Wait = %v; want a *FatalError for task billing", err)
	}
	if !errors.Is(err, declined) {
		t.Fatalf("Wait = %v; want it to wrap the task's error", err)
	}
	if want := "task \"billing\": fatal: charging\ncard processor unreachable"; err.Error() != want {
		t.Fatalf("message %q; want %q", err.Error(), want)
	}
	for i, e := range errs {
		if e != err {
			t.Fatalf("Wait call %d returned %v; want the same error as the first", i, e)
		}
	}
	if got := recv(t, causes, "bystander's cancellation"); got != err {
		t.Fatalf("bystander's cause %v; want the fatal error", got)
	}
	if err := g.Go("late", func(context.Context) error { return nil }); !errors.Is(err, tasks.ErrGroupEnded) {
		t.Fatalf("Go after the end = %v; want ErrGroupEnded", err)
	}
	if st := g.Status(); st.State != "stopped" || !strings.Contains(st.Error, "billing") {
		t.Fatalf("status %+v; want stopped with the error", st)
	}
}

// The bare marker is unwrapped, and panicking with a fatal error is fatal.
func TestFatalMarkerForms(t *testing.T) {
	boom := errors.New("boom")
	for name, fn := range map[string]func(context.Context) error{
		"returned": func(context.Context) error { return tasks.Fatal(boom) },
		"panicked": func(context.Context) error { panic(tasks.Fatal(boom)) },
	} {
		t.Run(name, func(t *testing.T) {
			g := tasks.NewGroup(context.Background(), tasks.Options{})
			mustAdd(t, g.Go("t", fn))
			err := wait(t, g)
			var fe *tasks.FatalError
			if !errors.As(err, &fe) || fe.Task != "t" || !errors.Is(err, boom) {
				t.Fatalf("Wait = %v; want a *FatalError for t wrapping boom", err)
			}
			if name == "returned" && err.Error() != `task "t": fatal: boom` {
				t.Fatalf("message %q", err.Error())
			}
		})
	}
	if tasks.Fatal(nil) != nil {
		t.Fatal("Fatal(nil) != nil")
	}
	if tasks.Fatal(boom).Error() != "boom" {
		t.Fatal("the marker changed the message")
	}
}

// Each restart policy restarts (or not) as documented.
func TestRestartPolicies(t *testing.T) {
	failure := errors.New("failure")
	cases := []struct {
		name    string
		policy  tasks.Policy
		result  error
		restart bool
	}{
		{"always/nil", tasks.Always, nil, true},
		{"always/error", tasks.Always, failure, true},
		{"on-failure/nil", tasks.OnFailure, nil, false},
		{"on-failure/error", tasks.OnFailure, failure, true},
		{"never/error", tasks.Never, failure, false},
		{"never/nil", tasks.Never, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := newEvents()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := tasks.NewGroup(ctx, tasks.Options{OnEvent: ev.hook, BackoffBase: -1, MaxRestarts: -1})
			runs := make(chan int, 10)
			var n int
			mustAdd(t, g.Go("t", func(ctx context.Context) error {
				n++
				runs <- n
				if n == 3 {
					<-ctx.Done()
					return nil
				}
				return c.result
			}, tasks.Restart(c.policy)))
			recv(t, runs, "first run")
			if c.restart {
				recv(t, runs, "second run")
				recv(t, runs, "third run")
				if st := taskStatus(t, g, "t"); st.Restarts != 2 || st.Runs != 3 {
					t.Fatalf("status %+v; want 2 restarts, 3 runs", st)
				}
			} else {
				stop := waitEvents[tasks.EventStopped](t, ev, "t", 1)[0]
				if stop.Err != c.result {
					t.Fatalf("stopped with %v; want %v", stop.Err, c.result)
				}
				st := taskStatus(t, g, "t")
				if st.State != tasks.StateStopped || st.Runs != 1 || st.Restarts != 0 {
					t.Fatalf("status %+v; want stopped after one run", st)
				}
				if c.result != nil && st.LastError != c.result.Error() {
					t.Fatalf("last error %q; want %q", st.LastError, c.result)
				}
			}
			cancel()
			if err := wait(t, g); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// More restarts than the intensity allows within the window is fatal.
func TestIntensityEscalates(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	g := tasks.NewGroup(context.Background(), tasks.Options{Clock: clk, BackoffBase: -1})
	flaky := errors.New("flaky")
	var runs atomic.Int64
	mustAdd(t, g.Go("flaky", func(context.Context) error {
		runs.Add(1)
		return flaky
	}, tasks.Intensity(3, time.Minute)))
	err := wait(t, g)
	var fe *tasks.FatalError
	if !errors.As(err, &fe) || fe.Task != "flaky" || !errors.Is(err, tasks.ErrIntensity) || !errors.Is(err, flaky) {
		t.Fatalf("Wait = %v; want a *FatalError for flaky wrapping ErrIntensity and the last error", err)
	}
	if got := runs.Load(); got != 4 {
		t.Fatalf("ran %d times; want 4 (3 restarts allowed, the 4th run's failure escalates)", got)
	}
	// Status counted 3 restarts: the message says the same.
	if !strings.Contains(err.Error(), "failed again after 3 restarts within 1m0s (limit 3)") {
		t.Fatalf("message %q does not explain the limit", err)
	}
}

// Restarts spread wider than the window never escalate, and a run that
// lasted BackoffMax starts the delay sequence over.
func TestIntensityWindowSlides(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})
	mustAdd(t, g.Go("slow-fail", func(context.Context) error {
		return errors.New("again")
	}, tasks.Intensity(1, time.Minute), tasks.Backoff(70*time.Second, 70*time.Second)))
	for k := 1; k <= 4; k++ {
		b := waitEvents[tasks.EventBackoff](t, ev, "slow-fail", k)[k-1]
		if b.Delay <= time.Minute || b.Delay > 70*time.Second {
			t.Fatalf("delay %v; want 70s less at most 10%% jitter", b.Delay)
		}
		block(t, clk, 1)
		clk.Advance(b.Delay)
	}
	waitEvents[tasks.EventBackoff](t, ev, "slow-fail", 5)
	if n := count[tasks.EventFatal](ev, "slow-fail"); n != 0 {
		t.Fatalf("escalated although no two restarts fell within the window:%v", ev)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// The restart delay doubles up to its cap, and starts over after a run that
// lasted at least the cap.
func TestBackoffStartsOverAfterLongRun(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})
	long := make(chan struct{})
	release := make(chan struct{})
	n := 0
	mustAdd(t, g.Go("t", func(context.Context) error {
		n++
		if n == 4 {
			close(long)
			<-release
		}
		return errors.New("failed")
	}, tasks.Backoff(time.Second, 4*time.Second), tasks.Intensity(-1, 0)))

	var delays []time.Duration
	for k := 1; k <= 4; k++ {
		if k == 4 {
			recv(t, long, "long run")
			clk.Advance(4 * time.Second)
			close(release)
		}
		b := waitEvents[tasks.EventBackoff](t, ev, "t", k)[k-1]
		delays = append(delays, b.Delay)
		block(t, clk, 1)
		clk.Advance(b.Delay)
	}
	within := func(d, want time.Duration) bool { return d >= want*9/10 && d <= want*11/10 }
	if !within(delays[0], time.Second) || !within(delays[1], 2*time.Second) || delays[2] < 3600*time.Millisecond || delays[2] > 4*time.Second {
		t.Fatalf("delays %v; want about 1s, 2s, then 4s (the cap)", delays)
	}
	if !within(delays[3], time.Second) {
		t.Fatalf("delay after a 4s run %v; want about 1s again", delays[3])
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}
