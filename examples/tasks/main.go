package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/tasks"
)

type demo struct {
	role.Default
	counted atomic.Int64
}

func (d *demo) Run(ctx context.Context, env role.Env) error {
	log := env.Logger()
	panicEvery, err := strconv.Atoi(role.StringOr(env, "PanicEvery", "10"))
	if err != nil || panicEvery < 1 {
		return fmt.Errorf("setting PanicEvery: want a positive integer, got %q", role.StringOr(env, "PanicEvery", "10"))
	}

	// The group is bound to Run's context: when the role stops, every task's
	// context ends and Wait returns nil.
	g := tasks.NewGroup(ctx, tasks.Options{Name: "demo"})

	// A steady worker. StallAfter restarts it if it stops beating for 10s.
	if err := g.Go("counter", func(ctx context.Context) error {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				d.counted.Add(1)
				tasks.Beat(ctx)
			}
		}
	}, tasks.StallAfter(10*time.Second)); err != nil {
		return err
	}

	// A task with a bug that bites now and then: the panic is recovered and
	// logged with its stack, and only this task restarts.
	if err := g.Go("flaky", func(ctx context.Context) error {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				if rand.IntN(panicEvery) == 0 {
					var orders map[string]int
					orders["boom"]++ // nil map write: a real panic
				}
			}
		}
	},
		tasks.Backoff(500*time.Millisecond, 8*time.Second),
		// It panics by design, so allow it more restarts than the default
		// (10 in 5 minutes) before it escalates to a role recycle.
		tasks.Intensity(60, 5*time.Minute),
	); err != nil {
		return err
	}

	// Periodic: the interval counts from the end of the previous run.
	if err := g.Periodic("sweep", 5*time.Second, func(ctx context.Context) error {
		log.Info("sweep: cleaning up", "counted", d.counted.Load())
		return nil
	}); err != nil {
		return err
	}

	// CRON with seconds, as in WebJobs' TimerTrigger. A 5-field spec would be
	// rejected here with an error showing the expected form. Skip: a report
	// missed while the process was paused is dropped, not run late.
	if err := g.Cron("report", "*/10 * * * * *", func(ctx context.Context) error {
		log.Info("report", "counted", d.counted.Load())
		return nil
	}, tasks.Misfire(tasks.Skip)); err != nil {
		return err
	}

	// nil when the role stops; a tasks.Fatal error (or restart intensity
	// exceeded) otherwise, which makes the host recycle the role.
	return g.Wait()
}

func main() {
	cloudrole.MainWith(&demo{}, cloudrole.Options{DefaultConfig: "examples/tasks/tasks.yaml"})
}
