package main

import (
	"context"
	"fmt"

	"github.com/cloudrole/cloudrole/queue"
)

// growthReps pairs a single run at a backlog of a million, whose fills
// alone take tens of seconds (asynq's, one task at a time, a minute).
func (e *env) growthReps(backlog int) int {
	if backlog >= 1_000_000 {
		return 1
	}
	return e.sz.reps
}

// crFill stores n jobs in the bench queue on url.
func crFill(url string, n int) error {
	ctx := context.Background()
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		return err
	}
	defer closeFn()
	return crEnqueueBatch(ctx, q, n, queue.Normal)
}

// growthRows: how consume throughput and a worker's memory grow with the
// jobs waiting. Each run fills a fresh server, then one worker in a child
// process consumes as many as the smallest backlog holds (the same work
// in every row, so the rows compare); the child's peak RSS is read from
// /proc when they are done, with the rest still waiting.
func growthRows(e *env) ([]row, error) {
	var rows []row
	crRSS, rawRSS := map[int][]float64{}, map[int][]float64{}
	bls := e.sz.backlogs
	k := bls[0]
	for _, n := range bls {
		run := func(side, stream string, fill func(string) error, rss map[int][]float64) func() (float64, error) {
			return e.withServer(false, func(u string) (float64, error) {
				if err := fill(u); err != nil {
					return 0, err
				}
				rate, peak, err := drain(side, u, stream, 1, rawMaxAckPending, n, n-k)
				rss[n] = append(rss[n], peak/(1<<20))
				return rate, err
			})
		}
		a, b, r, err := pair(e.growthReps(n),
			run("cloudrole", "CRQ_bench_p1", func(u string) error { return crFill(u, n) }, crRSS),
			run("raw", "RAW", func(u string) error { return rawFill(u, n, rawMaxAckPending) }, rawRSS))
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{Scenario: fmt.Sprintf("consume+ack of %d with %d waiting, 1 worker process, %d in flight, %s", k, n, rawMaxAckPending, sync2m),
			Unit: "jobs/s", Cloudrole: a, Baseline: "raw jetstream Consume, same", Base: b, Ratio: r})
	}
	lo, hi := bls[0], bls[len(bls)-1]
	c, c0, rw := median(crRSS[hi]), median(crRSS[lo]), median(rawRSS[hi])
	rows = append(rows,
		row{Scenario: fmt.Sprintf("worker process peak RSS (VmHWM), %d waiting vs %d", hi, lo), Unit: "MiB", Cloudrole: c,
			Baseline: fmt.Sprintf("the same worker, %d waiting", lo), Base: c0, Ratio: c0 / c, Target: "≥ 0.9 (flat)"},
		row{Scenario: fmt.Sprintf("worker process peak RSS (VmHWM), %d waiting", hi), Unit: "MiB", Cloudrole: c,
			Baseline: "raw jetstream Consume worker", Base: rw, Ratio: rw / c})
	return rows, nil
}

// processRows: one queue drained by 1, 2 and 3 worker processes, each
// with 1000 jobs in flight (raw's shared consumer gets 1000 per process).
func processRows(e *env) ([]row, error) {
	n := e.sz.procJobs
	var rows []row
	for procs := 1; procs <= 3; procs++ {
		a, b, r, err := pair(e.sz.reps,
			e.withServer(false, func(u string) (float64, error) {
				if err := crFill(u, n); err != nil {
					return 0, err
				}
				rate, _, err := drain("cloudrole", u, "CRQ_bench_p1", procs, rawMaxAckPending, n, 0)
				return rate, err
			}),
			e.withServer(false, func(u string) (float64, error) {
				if err := rawFill(u, n, procs*rawMaxAckPending); err != nil {
					return 0, err
				}
				rate, _, err := drain("raw", u, "RAW", procs, 0, n, 0)
				return rate, err
			}))
		if err != nil {
			return nil, err
		}
		what := "1 worker process"
		if procs > 1 {
			what = fmt.Sprintf("%d worker processes", procs)
		}
		rows = append(rows, row{Scenario: fmt.Sprintf("consume+ack of %d waiting, %s on one queue, %d in flight each, %s", n, what, rawMaxAckPending, sync2m),
			Unit: "jobs/s", Cloudrole: a, Baseline: "raw jetstream Consume, same", Base: b, Ratio: r})
	}
	return rows, nil
}
