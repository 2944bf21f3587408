package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/redis"
	"github.com/cschleiden/go-workflows/backend/sqlite"
	"github.com/cschleiden/go-workflows/client"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/worker"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"
	goredis "github.com/redis/go-redis/v9"
)

// order is the payload every orchestration and activity carries: an ID,
// a 128-byte note and the steps done so far.
type order struct {
	ID    string
	Note  string
	Steps int
}

// benchStep is each of the chain's activities: it counts itself.
func benchStep(_ context.Context, o order) (order, error) {
	o.Steps++
	return o, nil
}

// benchChain is the orchestration measured: three activities in a row,
// each given what the one before returned.
func benchChain(ctx workflow.Context, o order) (order, error) {
	for range 3 {
		var err error
		if o, err = workflow.ExecuteActivity[order](ctx, workflow.DefaultActivityOptions, benchStep, o).Get(ctx); err != nil {
			return o, err
		}
	}
	return o, nil
}

// wfOptions are the worker options every backend gets: durable's
// defaults (32 orchestrator and 32 activity tasks at a time, 512 cached
// executors) and a 10 ms polling interval, which only the SQLite backend
// uses (the other two wait on their servers for tasks).
func wfOptions() *worker.Options {
	o := worker.DefaultOptions
	o.MaxParallelWorkflowTasks, o.MaxParallelActivityTasks = 32, 32
	o.WorkflowExecutorCacheSize = 512
	o.WorkflowPollingInterval, o.ActivityPollingInterval = 10*time.Millisecond, 10*time.Millisecond
	return &o
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// wfBackend opens a fresh store for one run and returns the backend and
// what closes it.
type wfBackend func() (backend.Backend, func(), error)

// jetstreamBackend is cloudrole's: a durable hub on a fresh in-process
// server (fsync per write if syncAlways), used through go-workflows'
// own worker and client like the others.
func (e *env) jetstreamBackend(syncAlways bool) wfBackend {
	return func() (backend.Backend, func(), error) {
		s, stop, err := e.natsServer(syncAlways)
		if err != nil {
			return nil, nil, err
		}
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			stop()
			return nil, nil, err
		}
		h, err := durable.Open(context.Background(), durable.Options{Hub: "bench", Conn: nc, Logger: quiet})
		if err != nil {
			nc.Close()
			stop()
			return nil, nil, err
		}
		return h.Backend(), func() { h.Close(); nc.Close(); stop() }, nil
	}
}

// redisBackend is go-workflows' Redis backend on the env's Redis
// (persistence off), emptied first.
func (e *env) redisBackend() (backend.Backend, func(), error) {
	if err := e.redis.flush(); err != nil {
		return nil, nil, err
	}
	rc := goredis.NewUniversalClient(&goredis.UniversalOptions{Addrs: []string{e.redis.addr}})
	b, err := redis.NewRedisBackend(rc, redis.WithBlockTimeout(time.Second), redis.WithBackendOptions(backend.WithLogger(quiet)))
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return b, func() { b.Close(); rc.Close() }, nil
}

// sqliteBackend is go-workflows' SQLite backend on a fresh file (WAL,
// SQLite's default synchronous=FULL: the log is synced at every commit).
var sqliteRuns atomic.Int64

func (e *env) sqliteBackend() (backend.Backend, func(), error) {
	path := filepath.Join(e.dir, fmt.Sprintf("wf%d.sqlite", sqliteRuns.Add(1)))
	b := sqlite.NewSqliteBackend(path, sqlite.WithBackendOptions(backend.WithLogger(quiet)))
	return b, func() { b.Close() }, nil
}

// withWorker runs f with a worker of the chain on a fresh store of open.
func withWorker[T any](open wfBackend, f func(context.Context, backend.Backend, *client.Client) (T, error)) (T, error) {
	var zero T
	b, closeB, err := open()
	if err != nil {
		return zero, err
	}
	defer closeB()
	ctx, cancel := context.WithCancel(context.Background())
	w := worker.New(b, wfOptions())
	if err := errors.Join(w.RegisterWorkflow(benchChain), w.RegisterActivity(benchStep)); err != nil {
		cancel()
		return zero, err
	}
	if err := w.Start(ctx); err != nil {
		cancel()
		return zero, err
	}
	defer func() { cancel(); w.WaitForCompletion() }()
	return f(ctx, b, client.New(b))
}

func newOrder(i int) order {
	return order{ID: fmt.Sprintf("order-%06d", i), Note: strings.Repeat("n", 128)}
}

// waitFinished polls the instance's state every interval until it has
// finished (the same few-microsecond read on every backend).
func waitFinished(ctx context.Context, b backend.Backend, inst *workflow.Instance, every time.Duration, deadline time.Time) error {
	for {
		s, err := b.GetWorkflowInstanceState(ctx, inst)
		if err != nil {
			return err
		}
		if s == core.WorkflowInstanceStateFinished {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance %s not finished in time", inst.InstanceID)
		}
		time.Sleep(every)
	}
}

// chainThroughput starts n chains from 8 goroutines and times them from
// the first start to the last completion (instances are awaited in the
// order they started, each polled every 5 ms); then checks every result.
func chainThroughput(open wfBackend, n int) (float64, error) {
	return withWorker(open, func(ctx context.Context, b backend.Backend, c *client.Client) (float64, error) {
		insts := make([]*workflow.Instance, n)
		started := make(chan int, n)
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		t0 := time.Now()
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					inst, err := c.CreateWorkflowInstance(ctx, client.WorkflowInstanceOptions{InstanceID: fmt.Sprintf("bench-%06d", i)}, benchChain, newOrder(i))
					if err != nil {
						errs <- err
						return
					}
					insts[i] = inst
					started <- i
				}
			}()
		}
		deadline := time.Now().Add(5 * time.Minute)
		for range n {
			select {
			case err := <-errs:
				return 0, err
			case i := <-started:
				if err := waitFinished(ctx, b, insts[i], 5*time.Millisecond, deadline); err != nil {
					return 0, err
				}
			}
		}
		took := time.Since(t0)
		wg.Wait()
		for i, inst := range insts {
			o, err := client.GetWorkflowResult[order](ctx, c, inst, time.Second)
			if err != nil || o.Steps != 3 || o.ID != newOrder(i).ID {
				return 0, fmt.Errorf("instance %s: result %+v, %v", inst.InstanceID, o, err)
			}
		}
		return float64(n) / took.Seconds(), nil
	})
}

// chainLatency runs s chains one at a time and measures each from its
// start to its completion, polled every 0.5 ms.
func chainLatency(open wfBackend, s int) ([]time.Duration, error) {
	return withWorker(open, func(ctx context.Context, b backend.Backend, c *client.Client) ([]time.Duration, error) {
		var d []time.Duration
		for i := range s {
			t0 := time.Now()
			inst, err := c.CreateWorkflowInstance(ctx, client.WorkflowInstanceOptions{InstanceID: fmt.Sprintf("lat-%06d", i)}, benchChain, newOrder(i))
			if err != nil {
				return nil, err
			}
			if err := waitFinished(ctx, b, inst, 500*time.Microsecond, time.Now().Add(time.Minute)); err != nil {
				return nil, err
			}
			d = append(d, time.Since(t0))
		}
		return d, nil
	})
}

// rotate runs every f reps times, in an order rotated by one each round
// (A B C D, B C D A, ...), and returns each f's results.
func rotate[T any](reps int, fs ...func() (T, error)) ([][]T, error) {
	out := make([][]T, len(fs))
	for i := range reps {
		for k := range fs {
			j := (i + k) % len(fs)
			v, err := fs[j]()
			if err != nil {
				return nil, err
			}
			out[j] = append(out[j], v)
		}
	}
	return out, nil
}

// ratios are the per-round ratios a[i]/b[i].
func ratios(a, b []float64) []float64 {
	r := make([]float64, 0, len(a))
	for i := range a {
		if b[i] != 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return r
}

// orchestrations compares cloudrole's JetStream backend with go-workflows'
// Redis backend (neither syncs to disk: Redis with persistence off,
// nats-server at its default sync) and with its SQLite backend (both
// sync every commit: nats-server with SyncAlways), through the same
// go-workflows worker and client, in one rotation.
func orchestrations(e *env) ([]row, error) {
	n, s := e.sz.orchestrations, e.sz.chainSamples
	js, jsSync := e.jetstreamBackend(false), e.jetstreamBackend(true)
	tp, err := rotate(e.sz.reps,
		func() (float64, error) { return chainThroughput(js, n) },
		func() (float64, error) { return chainThroughput(e.redisBackend, n) },
		func() (float64, error) { return chainThroughput(jsSync, n) },
		func() (float64, error) { return chainThroughput(e.sqliteBackend, n) })
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("orchestrations, %d chains of 3 activities", n)
	rows := []row{
		{Scenario: name, Unit: "orch/s", Cloudrole: median(tp[0]), Baseline: "go-workflows redis backend",
			Base: median(tp[1]), Ratio: median(ratios(tp[0], tp[1])), Target: "≥ 1"},
		{Scenario: name + ", fsync per commit", Unit: "orch/s", Cloudrole: median(tp[2]), Baseline: "go-workflows sqlite backend",
			Base: median(tp[3]), Ratio: median(ratios(tp[2], tp[3]))},
	}
	lat, err := rotate(e.sz.reps,
		func() ([]time.Duration, error) { return chainLatency(js, s) },
		func() ([]time.Duration, error) { return chainLatency(e.redisBackend, s) },
		func() ([]time.Duration, error) { return chainLatency(jsSync, s) },
		func() ([]time.Duration, error) { return chainLatency(e.sqliteBackend, s) })
	if err != nil {
		return nil, err
	}
	for _, p := range []float64{50, 99} {
		for _, k := range []struct {
			cr, base int
			name     string
			baseline string
		}{{0, 1, "", "go-workflows redis backend"}, {2, 3, ", fsync per commit", "go-workflows sqlite backend"}} {
			var c, b []float64
			for i := range lat[k.cr] {
				c, b = append(c, percentile(lat[k.cr][i], p)), append(b, percentile(lat[k.base][i], p))
			}
			rows = append(rows, row{Scenario: fmt.Sprintf("orchestration start to completion, one at a time%s, p%.0f", k.name, p), Unit: "ms",
				Cloudrole: median(c), Baseline: k.baseline, Base: median(b), Ratio: median(ratios(b, c))})
		}
	}
	return rows, nil
}
