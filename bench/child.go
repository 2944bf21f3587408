package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/thejerf/suture/v4"

	"github.com/cloudrole/cloudrole/tasks"
)

// The memory figure is measured in a fresh process per side, so neither
// side's heap holds the other's garbage: the bench binary runs itself with
// BENCH_CHILD=mem-cloudrole|mem-suture and BENCH_N.

func isChild() bool { return os.Getenv("BENCH_CHILD") != "" }

type memResult struct {
	BytesPerTask      float64 `json:"bytes_per_task"`
	GoroutinesPerTask float64 `json:"goroutines_per_task"`
}

func memSnapshot() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse, runtime.NumGoroutine()
}

func runChild() int {
	if side, ok := strings.CutPrefix(os.Getenv("BENCH_CHILD"), "worker-"); ok {
		return runWorkerChild(side)
	}
	n, _ := strconv.Atoi(os.Getenv("BENCH_N"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before, g0 := memSnapshot()
	switch os.Getenv("BENCH_CHILD") {
	case "mem-cloudrole":
		g := tasks.NewGroup(ctx, tasks.Options{Logger: slog.New(slog.DiscardHandler)})
		for i := range n {
			if err := g.Go("t"+strconv.Itoa(i), func(ctx context.Context) error { <-ctx.Done(); return nil }); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	case "mem-suture":
		sup := suture.New("bench", suture.Spec{EventHook: func(suture.Event) {}})
		for range n {
			sup.Add(idleService{})
		}
		sup.ServeBackground(ctx)
	default:
		return 2
	}
	// Wait until every task's goroutine is up.
	deadline := time.Now().Add(time.Minute)
	for runtime.NumGoroutine() < g0+n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	after, g1 := memSnapshot()
	json.NewEncoder(os.Stdout).Encode(memResult{
		BytesPerTask:      float64(after-before) / float64(n),
		GoroutinesPerTask: float64(g1-g0) / float64(n),
	})
	return 0
}

type idleService struct{}

func (idleService) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

// memPerTask runs one side's child and returns its bytes per idle task.
func memPerTask(side string, n int) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "BENCH_CHILD=mem-"+side, "BENCH_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s memory child: %w", side, err)
	}
	var r memResult
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, err
	}
	return r.BytesPerTask, nil
}
