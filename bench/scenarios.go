package main

import (
	"fmt"
	"time"
)

type scenario struct {
	name string
	run  func(e *env) ([]row, error)
}

func scenarios() []scenario {
	return []scenario{
		{"queue throughput vs raw jetstream", throughputRaw},
		{"queue throughput vs asynq", throughputAsynq},
		{"enqueue rate", enqueueRates},
		{"pickup latency when idle", pickupIdle},
		{"priority under load", priorityUnderLoad},
		{"supervisor", supervisor},
		{"lifecycle", lifecycleRows},
		{"durable mode", durableMode},
		{"console budgets", consoleBudgets},
		{"jobs", jobsRows},
		{"scheduled jobs", scheduledLateness},
		{"unique jobs", uniqueness},
		{"fairness by key", fairness},
		{"orchestrations", orchestrations},
	}
}

// withServer runs f against a fresh server (fsync per write if syncAlways).
func (e *env) withServer(syncAlways bool, f func(url string) (float64, error)) func() (float64, error) {
	return func() (float64, error) {
		s, stop, err := e.natsServer(syncAlways)
		if err != nil {
			return 0, err
		}
		defer stop()
		return f(s.ClientURL())
	}
}

// rawMaxAckPending is the server's default cap on a pull consumer's
// delivered-but-unacknowledged jobs, which bounds raw Consume's pipeline.
const rawMaxAckPending = 1000

// throughputRaw compares consume-and-ack throughput with as many jobs in
// flight on each side: cloudrole's Concurrency (running plus asked-for
// jobs never exceed it) set to raw's MaxAckPending. A second row shows
// cloudrole at concurrency 256, where its bounded prefetch (a worker
// never holds a job it has no slot for) gives the server a shallower
// pipeline than raw Consume's.
func throughputRaw(e *env) ([]row, error) {
	n := e.sz.jobs
	raw := e.withServer(false, func(u string) (float64, error) { return rawThroughput(u, n) })
	// The row with the tightest target gets more pairs: single runs
	// swing by a fifth on a shared machine.
	a, b, r, err := pair(2*e.sz.reps+1,
		e.withServer(false, func(u string) (float64, error) { return crThroughput(u, n, rawMaxAckPending) }), raw)
	if err != nil {
		return nil, err
	}
	a2, b2, r2, err := pair(e.sz.reps,
		e.withServer(false, func(u string) (float64, error) { return crThroughput(u, n, 256) }), raw)
	if err != nil {
		return nil, err
	}
	return []row{
		{Scenario: fmt.Sprintf("throughput, %d × 128 B, consume+ack, %d in flight", n, rawMaxAckPending), Unit: "jobs/s", Cloudrole: a,
			Baseline: "raw jetstream Consume", Base: b, Ratio: r, Target: "≥ 0.9"},
		{Scenario: fmt.Sprintf("throughput, %d × 128 B, consume+ack, concurrency 256", n), Unit: "jobs/s", Cloudrole: a2,
			Baseline: "raw jetstream Consume", Base: b2, Ratio: r2},
	}, nil
}

func throughputAsynq(e *env) ([]row, error) {
	n, c := e.sz.jobs, e.sz.concurrency
	a, b, r, err := pair(e.sz.reps,
		e.withServer(false, func(u string) (float64, error) { return crThroughput(u, n, c) }),
		func() (float64, error) { return e.asynqThroughput(n, c) })
	if err != nil {
		return nil, err
	}
	return []row{{Scenario: fmt.Sprintf("throughput, %d jobs, concurrency %d", n, c), Unit: "jobs/s", Cloudrole: a,
		Baseline: "asynq on redis", Base: b, Ratio: r, Target: "≥ 5"}}, nil
}

func enqueueRates(e *env) ([]row, error) {
	var rows []row
	for _, batch := range []bool{false, true} {
		n := e.sz.enqueue
		if batch {
			n *= 10 // batches are fast; more jobs for a stable figure
		}
		a, b, r, err := pair(e.sz.reps,
			e.withServer(false, func(u string) (float64, error) { return crEnqueueRate(u, n, batch) }),
			e.withServer(false, func(u string) (float64, error) { return rawEnqueueRate(u, n, batch) }))
		if err != nil {
			return nil, err
		}
		kind, base := "sync", "raw jetstream Publish"
		if batch {
			kind, base = "batch", "raw jetstream PublishAsync"
		}
		rows = append(rows, row{Scenario: "enqueue " + kind, Unit: "jobs/s", Cloudrole: a, Baseline: base, Base: b, Ratio: r})
	}
	n := e.sz.enqueue
	a, b, r, err := pair(e.sz.reps,
		e.withServer(false, func(u string) (float64, error) { return crEnqueueRate(u, n, false) }),
		func() (float64, error) { return e.asynqEnqueueRate(n) })
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{Scenario: "enqueue sync", Unit: "jobs/s", Cloudrole: a, Baseline: "asynq Enqueue", Base: b, Ratio: r})
	return rows, nil
}

// latencyRows turns paired latency samples into p50 and p99 rows (lower is
// better, so the ratio is baseline / cloudrole).
func latencyRows(e *env, name, base string, cr, bl func() ([]time.Duration, error)) ([]row, error) {
	var c50, c99, b50, b99 []float64
	for i := range e.sz.reps {
		first, second := cr, bl
		if i%2 == 1 {
			first, second = bl, cr
		}
		x, err := first()
		if err != nil {
			return nil, err
		}
		y, err := second()
		if err != nil {
			return nil, err
		}
		if i%2 == 1 {
			x, y = y, x
		}
		c50, c99 = append(c50, percentile(x, 50)), append(c99, percentile(x, 99))
		b50, b99 = append(b50, percentile(y, 50)), append(b99, percentile(y, 99))
	}
	mk := func(p string, c, b []float64) row {
		cm, bm := median(c), median(b)
		return row{Scenario: name + " " + p, Unit: "ms", Cloudrole: cm, Baseline: base, Base: bm, Ratio: bm / cm}
	}
	return []row{mk("p50", c50, b50), mk("p99", c99, b99)}, nil
}

func priorityUnderLoad(e *env) ([]row, error) {
	bl, s, c := e.sz.backlog, e.sz.samples, 8
	return latencyRows(e, fmt.Sprintf("high-priority start, %d low waiting, 1 ms handler ×%d,", bl, c), "asynq strict priority",
		func() ([]time.Duration, error) {
			srv, stop, err := e.natsServer(false)
			if err != nil {
				return nil, err
			}
			defer stop()
			return crPriority(srv.ClientURL(), bl, s, c)
		},
		func() ([]time.Duration, error) { return e.asynqPriority(bl, s, c) })
}

func pickupIdle(e *env) ([]row, error) {
	s := e.sz.pickups
	return latencyRows(e, "idle pickup, enqueue to start,", "asynq",
		func() ([]time.Duration, error) {
			srv, stop, err := e.natsServer(false)
			if err != nil {
				return nil, err
			}
			defer stop()
			return crPickup(srv.ClientURL(), s)
		},
		func() ([]time.Duration, error) { return e.asynqPickup(s) })
}

func supervisor(e *env) ([]row, error) {
	n := e.sz.restarts
	a, b, r, err := pair(e.sz.reps, func() (float64, error) { return crRestart(n) }, func() (float64, error) { return sutureRestart(n) })
	if err != nil {
		return nil, err
	}
	rows := []row{{Scenario: "panic to running again, zero backoff", Unit: "µs", Cloudrole: a, Baseline: "suture v4", Base: b, Ratio: 1 / r}}
	k := e.sz.idleTasks
	a, b, r, err = pair(e.sz.reps, func() (float64, error) { return memPerTask("cloudrole", k) }, func() (float64, error) { return memPerTask("suture", k) })
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{Scenario: fmt.Sprintf("memory per idle task at %d tasks", k), Unit: "B", Cloudrole: a, Baseline: "suture v4", Base: b, Ratio: 1 / r})
	return rows, nil
}

func lifecycleRows(e *env) ([]row, error) {
	cr, plain, err := e.buildRoles()
	if err != nil {
		return nil, err
	}
	var cReady, cExit, pReady, pExit []float64
	for i := range e.sz.reps {
		runs := []func() error{
			func() error {
				r, x, err := startStop(cr, crRoleArgs(e.dir))
				cReady, cExit = append(cReady, r), append(cExit, x)
				return err
			},
			func() error {
				r, x, err := startStop(plain, plainArgs)
				pReady, pExit = append(pReady, r), append(pExit, x)
				return err
			},
		}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, run := range runs {
			if err := run(); err != nil {
				return nil, err
			}
		}
	}
	mk := func(name string, c, p []float64) row {
		return row{Scenario: name, Unit: "ms", Cloudrole: median(c), Baseline: "hand-written main (same embedded server)", Base: median(p), Ratio: median(p) / median(c)}
	}
	return []row{mk("process start to /readyz 200, embedded NATS", cReady, pReady), mk("SIGTERM to exit, idle", cExit, pExit)}, nil
}

func durableMode(e *env) ([]row, error) {
	n, c := e.sz.durableJobs, 256
	a, b, r, err := pair(e.sz.reps,
		e.withServer(true, func(u string) (float64, error) { return crThroughput(u, n, c) }),
		e.withServer(true, func(u string) (float64, error) { return rawThroughput(u, n) }))
	if err != nil {
		return nil, err
	}
	return []row{{Scenario: fmt.Sprintf("the default config (sync: always, fsync every write), consume+ack, %d jobs", n), Unit: "jobs/s", Cloudrole: a,
		Baseline: "raw jetstream Consume", Base: b, Ratio: r}}, nil
}
