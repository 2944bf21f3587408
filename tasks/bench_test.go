package tasks_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
)

// BenchmarkRestartAfterPanic measures restart overhead: the time from a
// task's panic to its function running again, with zero backoff. The
// function stamps time.Now() just before it panics and reads time.Now()
// first thing when it runs again; one op is one panic-to-running-again
// cycle (recover, stack capture, logging, status and event bookkeeping,
// a new run context). Reported: ns/op (mean) and the p50/p90/p99 latency.
//
// "discard" uses the default logger (none: logs discarded); "json" logs
// each panic with its full stack through a JSON handler to io.Discard, the
// cost a real deployment pays.
func BenchmarkRestartAfterPanic(b *testing.B) {
	for _, bc := range []struct {
		name   string
		logger *slog.Logger
	}{
		{"discard", nil},
		{"json", slog.New(slog.NewJSONHandler(io.Discard, nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := tasks.NewGroup(ctx, tasks.Options{Logger: bc.logger, BackoffBase: -1, MaxRestarts: -1})
			lat := make([]time.Duration, 0, b.N)
			var panicked time.Time // owned by the task's goroutine until done
			done := make(chan struct{})
			b.ReportAllocs()
			b.ResetTimer()
			err := g.Go("crasher", func(ctx context.Context) error {
				now := time.Now()
				if !panicked.IsZero() {
					lat = append(lat, now.Sub(panicked))
				}
				if len(lat) == b.N {
					close(done)
					<-ctx.Done()
					return nil
				}
				panicked = time.Now()
				panic("benchmark")
			})
			if err != nil {
				b.Fatal(err)
			}
			<-done
			b.StopTimer()
			cancel()
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			slices.Sort(lat)
			pct := func(p int) float64 { return float64(lat[(len(lat)-1)*p/100].Nanoseconds()) }
			b.ReportMetric(pct(50), "p50-ns")
			b.ReportMetric(pct(90), "p90-ns")
			b.ReportMetric(pct(99), "p99-ns")
		})
	}
}

// BenchmarkIdleTasks measures what an idle supervised task costs: 10,000
// tasks that block on their context, each with its name and default options
// ("stall" adds stall detection: an armed clock timer per task). Reported
// per task: heap plus goroutine stack bytes (B/task) and goroutines.
//
// Each iteration measures in a fresh child process (this test binary
// running TestIdleTaskCost), because the runtime reuses the descriptors and
// stack memory of exited goroutines: measured in a process that already ran
// tasks, the cost would look smaller than it is.
func BenchmarkIdleTasks(b *testing.B) {
	for _, variant := range []string{"plain", "stall"} {
		b.Run(variant, func(b *testing.B) {
			var bytes, goroutines float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestIdleTaskCost$", "-test.count=1", "-test.v")
				cmd.Env = append(os.Environ(), idleCostEnv+"="+variant)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				var by, gs float64
				i := strings.Index(string(out), "idle-cost:")
				if i < 0 {
					b.Fatalf("no result in %s", out)
				}
				if _, err := fmt.Sscanf(string(out[i:]), "idle-cost: %g B/task %g goroutines/task", &by, &gs); err != nil {
					b.Fatalf("%v in %s", err, out)
				}
				bytes += by
				goroutines += gs
			}
			b.ReportMetric(bytes/float64(b.N), "B/task")
			b.ReportMetric(goroutines/float64(b.N), "goroutines/task")
		})
	}
}

const idleCostEnv = "TASKS_IDLE_COST"

// TestIdleTaskCost is BenchmarkIdleTasks' measurement, run in a child
// process; skipped otherwise. The deltas of runtime.MemStats HeapAlloc and
// StackInuse are read after garbage collection; the "after" side runs two
// GCs, as a process that has run a while has: a GC halves the stack of a
// parked goroutine that uses under a quarter of it, and a task's stack may
// have grown while it started.
func TestIdleTaskCost(t *testing.T) {
	variant := os.Getenv(idleCostEnv)
	if variant == "" {
		t.Skip("run by BenchmarkIdleTasks")
	}
	const n = 10_000
	var opts []tasks.Option
	if variant == "stall" {
		opts = append(opts, tasks.StallAfter(time.Hour))
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprint("task-", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	g := tasks.NewGroup(ctx, tasks.Options{})
	var started sync.WaitGroup
	started.Add(n)
	idle := func(ctx context.Context) error {
		started.Done()
		<-ctx.Done()
		return nil
	}
	for _, name := range names {
		mustAdd(t, g.Go(name, idle, opts...))
	}
	started.Wait()

	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	fmt.Printf("idle-cost: %d B/task %g goroutines/task (heap %d, stack %d)\n",
		(after.HeapAlloc-before.HeapAlloc+after.StackInuse-before.StackInuse)/n, float64(g1-g0)/n,
		(after.HeapAlloc-before.HeapAlloc)/n, (after.StackInuse-before.StackInuse)/n)
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}
