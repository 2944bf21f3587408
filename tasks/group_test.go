package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
)

// A group whose context carries a host shows its status in the host's
// registry while it runs, as JSON with every documented field, and removes
// it when it ends.
func TestStatusInHostRegistry(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	reg := hostctx.NewRegistry()
	ctx, cancel := context.WithCancel(hostctx.With(context.Background(), hostctx.New(nil, reg)))
	defer cancel()
	ev := newEvents()
	g := tasks.NewGroup(ctx, tasks.Options{Name: "worker", Clock: clk, OnEvent: ev.hook, BackoffBase: time.Second})

	beaten := make(chan struct{})
	mustAdd(t, g.Go("poller", func(ctx context.Context) error {
		tasks.Beat(ctx)
		close(beaten)
		<-ctx.Done()
		return nil
	}, tasks.StallAfter(time.Minute)))
	mustAdd(t, g.Go("crasher", func(context.Context) error { panic("kaput") }))
	mustAdd(t, g.Cron("report", "0 */5 * * * *", func(context.Context) error { return nil }))
	recv(t, beaten, "beat")
	waitEvents[tasks.EventBackoff](t, ev, "crasher", 1)
	block(t, clk, 3) // stall timer, backoff timer, schedule timer

	if names := reg.Names(); !slices.Equal(names, []string{"tasks"}) {
		t.Fatalf("registry sections %v; want [tasks]", names)
	}
	raw, err := json.Marshal(reg.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tasks struct {
			Name  string
			State string
			Tasks []map[string]any
		}
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Tasks.Name != "worker" || got.Tasks.State != "running" || len(got.Tasks.Tasks) != 3 {
		t.Fatalf("status %s", raw)
	}
	byName := map[string]map[string]any{}
	for _, ts := range got.Tasks.Tasks {
		byName[ts["name"].(string)] = ts
	}
	want := map[string]map[string]any{
		"poller":  {"kind": "go", "state": "running", "restarts": 0.0, "runs": 1.0, "last_heartbeat": t0.Format(time.RFC3339Nano)},
		"crasher": {"kind": "go", "state": "backoff", "restarts": 1.0, "last_error": "panic: kaput"},
		"report":  {"kind": "cron", "state": "scheduled", "schedule": "0 */5 * * * *", "next_run": "2026-01-01T00:05:00Z"},
	}
	for name, fields := range want {
		for k, v := range fields {
			if byName[name][k] != v {
				t.Errorf("%s.%s = %v; want %v (status %s)", name, k, byName[name][k], v, raw)
			}
		}
	}
	if lp, _ := byName["crasher"]["last_panic"].(string); !strings.HasPrefix(lp, "panic: kaput\n") || !strings.Contains(lp, "group_test.go") {
		t.Errorf("last_panic %q; want the value then the frames that panicked", lp)
	}
	if _, ok := byName["crasher"]["next_run"]; !ok {
		t.Error("a task in backoff shows no next_run")
	}

	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
	if names := reg.Names(); len(names) != 0 {
		t.Fatalf("registry sections after the end %v; want none", names)
	}
	if st := g.Status(); st.State != "stopped" || st.Tasks[0].State != tasks.StateStopped {
		t.Fatalf("status after the end %+v", st)
	}
}

// Wait is safe from many goroutines and returns nil when the context ends;
// Stop is idempotent and tasks see why they were cancelled.
func TestStopAndWait(t *testing.T) {
	g := tasks.NewGroup(context.Background(), tasks.Options{})
	causes := make(chan error, 1)
	started := make(chan struct{})
	mustAdd(t, g.Go("t", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	}))
	recv(t, started, "start")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() { errs <- g.Wait() })
		wg.Go(func() { errs <- g.Stop(testCtx(t)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Wait/Stop = %v; want nil", err)
		}
	}
	if c := recv(t, causes, "cause"); !errors.Is(c, tasks.ErrGroupStopped) {
		t.Fatalf("cause %v; want ErrGroupStopped", c)
	}
	if err := g.Periodic("late", time.Second, func(context.Context) error { return nil }); !errors.Is(err, tasks.ErrGroupEnded) {
		t.Fatalf("Periodic after the end = %v; want ErrGroupEnded", err)
	}
}

// A group whose context is already done ends at once, with no task.
func TestGroupOnEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := tasks.NewGroup(ctx, tasks.Options{})
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
	if err := g.Go("t", func(context.Context) error { return nil }); !errors.Is(err, tasks.ErrGroupEnded) {
		t.Fatalf("Go = %v; want ErrGroupEnded", err)
	}
}

// After 100 start/stop cycles of a group with 50 tasks of every kind, no
// goroutine is left behind.
func TestNoGoroutineLeakAcrossCycles(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	locker := tasks.NewLocalLocker(nil)
	for cycle := range 100 {
		ctx, cancel := context.WithCancel(context.Background())
		g := tasks.NewGroup(ctx, tasks.Options{Name: fmt.Sprint("cycle-", cycle)})
		var started sync.WaitGroup
		blockFn := func(ctx context.Context) error {
			started.Done()
			<-ctx.Done()
			return nil
		}
		for i := range 50 {
			name := fmt.Sprint("task-", i)
			var err error
			switch i % 5 {
			case 0, 1:
				started.Add(1)
				err = g.Go(name, blockFn, tasks.StallAfter(time.Hour))
			case 2:
				started.Add(1)
				err = g.Periodic(name, time.Hour, blockFn)
			case 3:
				err = g.Cron(name, "0 0 0 * * *", blockFn, tasks.StallAfter(time.Hour))
			case 4:
				started.Add(1)
				err = g.Go(name, blockFn, tasks.Singleton(locker, tasks.LockName(name)))
			}
			mustAdd(t, err)
		}
		started.Wait() // every task that runs at start is running
		cancel()
		if err := wait(t, g); err != nil {
			t.Fatal(err)
		}
	}
	goleak.VerifyNone(t, baseline)
}
