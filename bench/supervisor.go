package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/thejerf/suture/v4"

	"github.com/cloudrole/cloudrole/tasks"
)

// crRestart: a task that panics on every run, restarted at once (zero
// backoff, no intensity limit); mean time from panic to running again.
func crRestart(n int) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{BackoffBase: -1, MaxRestarts: -1, Logger: slog.New(slog.DiscardHandler)})
	var runs atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	err := g.Go("crasher", func(ctx context.Context) error {
		if runs.Add(1) == int64(n+1) {
			close(done)
			<-ctx.Done()
			return nil
		}
		panic("boom")
	})
	if err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("%d of %d restarts in a minute", runs.Load(), n)
	}
	per := time.Since(start) / time.Duration(n)
	cancel()
	g.Wait()
	return float64(per) / float64(time.Microsecond), nil
}

type panicky struct {
	runs *atomic.Int64
	n    int64
	done chan struct{}
}

func (p panicky) Serve(ctx context.Context) error {
	if p.runs.Add(1) == p.n+1 {
		close(p.done)
		<-ctx.Done()
		return nil
	}
	panic("boom")
}

// sutureRestart is crRestart on suture v4 with its backoff out of the way.
func sutureRestart(n int) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sup := suture.New("bench", suture.Spec{
		EventHook:        func(suture.Event) {}, // no logging, as cloudrole's discard logger
		FailureThreshold: math.MaxFloat64, FailureDecay: 1, FailureBackoff: time.Nanosecond,
		BackoffJitter: suture.NoJitter{},
	})
	var runs atomic.Int64
	done := make(chan struct{})
	sup.Add(panicky{runs: &runs, n: int64(n), done: done})
	start := time.Now()
	errc := sup.ServeBackground(ctx)
	select {
	case <-done:
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("%d of %d restarts in a minute", runs.Load(), n)
	}
	per := time.Since(start) / time.Duration(n)
	cancel()
	<-errc
	return float64(per) / float64(time.Microsecond), nil
}
