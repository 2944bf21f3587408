package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/startup"
	"github.com/cloudrole/cloudrole/tasks"
)

const waitTimeout = 60 * time.Second

// cyclingRole recycles itself until it has run want instances. Each
// instance starts a task group (one task panics once), and the config gives
// it a simple and a background startup task, so every recycle tears down
// goroutines, timers and child processes.
type cyclingRole struct {
	role.Default
	want int
	runs atomic.Int64
}

func (r *cyclingRole) Run(ctx context.Context, env role.Env) error {
	n := r.runs.Add(1)
	g := tasks.NewGroup(ctx, tasks.Options{Name: "cycle", BackoffBase: -1})
	for i := range 10 {
		panicked := false
		if err := g.Go(fmt.Sprintf("t%d", i), func(ctx context.Context) error {
			if i == 0 && !panicked {
				panicked = true
				panic("first run of t0 panics")
			}
			<-ctx.Done()
			return nil
		}); err != nil {
			return err
		}
	}
	if err := g.Periodic("tick", time.Millisecond, func(context.Context) error { return nil }); err != nil {
		return err
	}
	if int(n) < r.want {
		env.RequestRecycle(fmt.Sprintf("cycle %d", n))
	}
	return g.Wait()
}

// 100 in-process recycles (each with startup tasks, a background child
// process, a task group and a panic) leave no goroutine, file descriptor or
// child process behind once the host stops.
func TestRecyclesLeakNothing(t *testing.T) {
	cycles := scale(100, 500)
	fdsBefore := openFDs(t)

	cfg, err := config.Default(config.Options{Environ: []string{}, ProgramName: "cycler", Hostname: "faults"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Role.DataDir = t.TempDir()
	// The store dir was derived from the default data dir; the host locks it at start.
	cfg.NATS.StoreDir = filepath.Join(cfg.Role.DataDir, "nats")
	cfg.Health.Addr = "127.0.0.1:0"
	cfg.Host.BackoffBase = time.Millisecond
	cfg.Host.BackoffMax = time.Millisecond
	cfg.Host.MaxFailures = cycles * 2
	cfg.Host.ReloadInterval = 0
	// The sidecar's grandchild carries a unique argument so it can be found
	// even after its parent died and it was re-parented.
	marker := fmt.Sprintf("600.%d", os.Getpid())
	cfg.Startup = []startup.Task{
		{Name: "prepare", Kind: startup.Simple, Command: []string{"true"}},
		{Name: "sidecar", Kind: startup.Background, Command: []string{"sh", "-c", "sleep " + marker + " & wait"}},
	}

	r := &cyclingRole{want: cycles}
	var recycles atomic.Int64
	running := make(chan int, cycles+1)
	h, err := lifecycle.New(r, cfg, lifecycle.Options{Events: func(ev lifecycle.Event) {
		switch ev := ev.(type) {
		case lifecycle.Recycled:
			recycles.Add(1)
		case lifecycle.StateChanged:
			if ev.State == lifecycle.StateRunning {
				running <- ev.Incarnation
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(context.Background()) }()

	deadline := time.After(waitTimeout * time.Duration(scale(1, 5)))
	sawSidecar := false
	for last := 0; last < cycles; {
		select {
		case last = <-running:
			if last == 1 {
				// The sidecar's sleep may not have been forked yet; look
				// until it shows or the next instance is running.
				sawSidecar = waitFor(func() bool { return len(processesWithArg(t, marker)) > 0 }, 10*time.Second)
			}
		case <-deadline:
			h.Stop(nil)
			<-done
			t.Fatalf("only %d of %d instances ran before the deadline", last, cycles)
		}
	}
	h.Stop(nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("host Run = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("host did not stop")
	}
	if !sawSidecar {
		t.Fatal("the background startup task's process never showed up: the test would prove nothing")
	}
	if left := processesWithArg(t, marker); len(left) != 0 {
		t.Fatalf("background startup task processes left after %d recycles: %v", cycles, left)
	}
	if got := recycles.Load(); got != int64(cycles-1) {
		t.Fatalf("%d recycles; want %d", got, cycles-1)
	}

	if err := goleak.Find(); err != nil {
		t.Fatalf("goroutines leaked after %d recycles: %v", cycles, err)
	}
	if kids := children(t); len(kids) != 0 {
		t.Fatalf("child processes left after %d recycles: %v", cycles, kids)
	}
	if fds := openFDs(t); fds > fdsBefore {
		t.Fatalf("%d file descriptors open after %d recycles; %d before", fds, cycles, fdsBefore)
	}
	t.Logf("%d instances, %d recycles: no goroutine, fd or child process left", cycles, cycles-1)
}
