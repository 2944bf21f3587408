package faults

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/tasks"
)

// stormRole runs one task that panics as fast as it is restarted (zero
// backoff, no intensity limit) next to two workers that process a stream
// of items from the test.
type stormRole struct {
	role.Default
	panics  int64 // how many times the crasher panics before it settles
	crashes atomic.Int64
	settled chan struct{}
	items   chan int
	done    chan int
	starts  [2]atomic.Int64
}

func (r *stormRole) Run(ctx context.Context, env role.Env) error {
	g := tasks.NewGroup(ctx, tasks.Options{Name: "storm", BackoffBase: -1, MaxRestarts: -1})
	if err := g.Go("crasher", func(ctx context.Context) error {
		if r.crashes.Add(1) <= r.panics {
			panic("storm")
		}
		close(r.settled)
		<-ctx.Done()
		return nil
	}); err != nil {
		return err
	}
	for i := range 2 {
		if err := g.Go([]string{"worker-0", "worker-1"}[i], func(ctx context.Context) error {
			r.starts[i].Add(1)
			for {
				select {
				case <-ctx.Done():
					return nil
				case v := <-r.items:
					r.done <- v
				}
			}
		}); err != nil {
			return err
		}
	}
	return g.Wait()
}

// A panic storm in one task (thousands of panics at zero backoff) while two
// others work: every item is processed, the workers never restart, the role
// never recycles and stays ready.
func TestPanicStormLeavesOthersUnaffected(t *testing.T) {
	items := scale(2000, 20000)
	r := &stormRole{
		panics:  int64(scale(5000, 100000)),
		settled: make(chan struct{}),
		items:   make(chan int),
		done:    make(chan int),
	}
	cfg, err := config.Default(config.Options{Environ: []string{}, ProgramName: "storm", Hostname: "faults"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Role.DataDir = t.TempDir()
	// The store dir was derived from the default data dir; the host locks it at start.
	cfg.NATS.StoreDir = filepath.Join(cfg.Role.DataDir, "nats")
	cfg.Health.Addr = "127.0.0.1:0"
	cfg.Host.ReloadInterval = 0
	var recycles atomic.Int64
	running := make(chan struct{}, 1)
	h, err := lifecycle.New(r, cfg, lifecycle.Options{Events: func(ev lifecycle.Event) {
		switch ev := ev.(type) {
		case lifecycle.Recycled:
			recycles.Add(1)
		case lifecycle.StateChanged:
			if ev.State == lifecycle.StateRunning {
				select {
				case running <- struct{}{}:
				default:
				}
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- h.Run(context.Background()) }()
	defer func() {
		h.Stop(nil)
		if err := <-stopped; err != nil {
			t.Errorf("host Run = %v", err)
		}
	}()
	select {
	case <-running:
	case <-time.After(waitTimeout):
		t.Fatal("role never ran")
	}

	// Feed the workers while the storm rages; each item must come back.
	start := time.Now()
	deadline := time.After(waitTimeout * time.Duration(scale(1, 5)))
	sent, got := 0, 0
	duringStorm := 0
	for got < items {
		var feed chan int
		if sent < items {
			feed = r.items
		}
		select {
		case feed <- sent:
			sent++
		case <-r.done:
			got++
			select {
			case <-r.settled:
			default:
				duringStorm++
			}
		case <-deadline:
			t.Fatalf("workers processed %d of %d items during the storm (%d panics so far)", got, items, r.crashes.Load())
		}
	}
	select {
	case <-r.settled:
	case <-deadline:
		t.Fatalf("the storm did not finish: %d of %d panics", r.crashes.Load(), r.panics)
	}
	elapsed := time.Since(start)

	if duringStorm == 0 {
		t.Fatal("no item was processed while the storm raged: the test proved nothing")
	}
	for i := range 2 {
		if n := r.starts[i].Load(); n != 1 {
			t.Fatalf("worker-%d started %d times; want 1 (never restarted)", i, n)
		}
	}
	if n := recycles.Load(); n != 0 {
		t.Fatalf("role recycled %d times during a storm confined to one task", n)
	}
	if err := h.Live(context.Background()); err != nil {
		t.Fatalf("host not live after the storm: %v", err)
	}
	t.Logf("%d panics in %v (%.0f/s); %d items processed, %d of them during the storm; workers never restarted",
		r.panics, elapsed.Round(time.Millisecond), float64(r.panics)/elapsed.Seconds(), items, duringStorm)
}
