package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole/queue"
	"github.com/hibiken/asynq"
)

// Scheduling rows (issue 18): the lateness of scheduled jobs (start minus
// due time) against asynq's ProcessAt, the cost of a unique enqueue
// against asynq's Unique, and fairness by key against plain FIFO.

// lateSpacing is the gap between the due times of consecutive scheduled
// jobs in the dense runs: not a divisor of the server's 250 ms scheduler
// tick, so due times fall all over it.
const lateSpacing = 37 * time.Millisecond

// sparseSpacing spaces due times wider than the scheduler's tick.
const sparseSpacing = 400 * time.Millisecond

// lateness is a scheduled-jobs scenario: n jobs due spacing apart from a
// second from now, at High priority, on an idle worker or one kept busy
// by a backlog of low-priority jobs with a 1 ms handler.
type lateness struct {
	n       int
	spacing time.Duration
	busy    int // low-priority jobs waiting; 0: idle
	conc    int
}

func (e *env) latenessRows(name string, l lateness) ([]row, error) {
	return latencyRows(e, name, "asynq ProcessAt",
		func() ([]time.Duration, error) {
			srv, stop, err := e.natsServer(false)
			if err != nil {
				return nil, err
			}
			defer stop()
			return crLateness(srv.ClientURL(), l)
		},
		func() ([]time.Duration, error) { return e.asynqLateness(l) })
}

func scheduledLateness(e *env) ([]row, error) {
	dense, sparse := e.sz.scheduled, max(5, e.sz.scheduled/10)
	var rows []row
	runs := []struct {
		name string
		l    lateness
	}{
		{fmt.Sprintf("scheduled job start − due, idle worker, %d due %v apart,", dense, lateSpacing), lateness{n: dense, spacing: lateSpacing, conc: 8}},
		{fmt.Sprintf("scheduled job start − due, idle worker, %d due %v apart,", sparse, sparseSpacing), lateness{n: sparse, spacing: sparseSpacing, conc: 8}},
		{fmt.Sprintf("scheduled job start − due, busy worker (%d low waiting, 1 ms ×8), %d due %v apart at high,", e.sz.backlog, dense, lateSpacing),
			lateness{n: dense, spacing: lateSpacing, busy: e.sz.backlog, conc: 8}},
	}
	if e.sz.name == smokeSizes.name {
		// Each asynq run waits out its 5 s forwarder: one pair keeps the
		// smoke short, and the three share their code.
		runs = runs[:1]
	}
	for _, s := range runs {
		rs, err := e.latenessRows(s.name, s.l)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

// duePayload carries a job's due time in its first 8 bytes.
func duePayload(due time.Time) []byte {
	b := make([]byte, 128)
	binary.LittleEndian.PutUint64(b, uint64(due.UnixNano()))
	return b
}

func crLateness(url string, l lateness) ([]time.Duration, error) {
	ctx := context.Background()
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	if l.busy > 0 {
		if err := crEnqueueBatch(ctx, q, l.busy, queue.Low); err != nil {
			return nil, err
		}
	}
	lat := newLatencies(l.n)
	stop := work(q, l.conc, func(_ context.Context, j *queue.Job) error {
		if !j.Due.IsZero() {
			lat.add(time.Since(j.Due))
		}
		if l.busy > 0 {
			time.Sleep(time.Millisecond) // the 1 ms handler
		}
		return nil
	})
	defer stop()
	first := time.Now().Add(time.Second)
	for i := range l.n {
		due := first.Add(time.Duration(i) * l.spacing)
		if _, err := q.Enqueue(ctx, duePayload(due), queue.WithAt(due), queue.WithPriority(queue.High)); err != nil {
			return nil, err
		}
	}
	return lat.wait(time.Until(first) + time.Duration(l.n)*l.spacing + time.Minute)
}

func (e *env) asynqLateness(l lateness) ([]time.Duration, error) {
	if err := e.flushRedis(); err != nil {
		return nil, err
	}
	if l.busy > 0 {
		if err := e.asynqEnqueue(l.busy, 16, "low"); err != nil {
			return nil, err
		}
	}
	lat := newLatencies(l.n)
	// asynq's defaults, as a user gets them: its forwarder moves due
	// tasks every DelayedTaskCheckInterval (5 s).
	stop := e.asynqServer(l.conc, map[string]int{"critical": 6, "default": 3, "low": 1}, true, func(t *asynq.Task) {
		if len(t.Payload()) == 129 {
			lat.add(time.Since(sentAt(t.Payload())))
		}
		if l.busy > 0 {
			time.Sleep(time.Millisecond)
		}
	})
	defer stop()
	c := e.asynqClient()
	defer c.Close()
	first := time.Now().Add(time.Second)
	for i := range l.n {
		due := first.Add(time.Duration(i) * l.spacing)
		p := append(duePayload(due), 1) // scheduled tasks carry one extra byte
		if _, err := c.Enqueue(asynq.NewTask(asynqType, p), asynq.ProcessAt(due), asynq.Queue("critical"), asynq.MaxRetry(0)); err != nil {
			return nil, err
		}
	}
	return lat.wait(time.Until(first) + time.Duration(l.n)*l.spacing + time.Minute)
}

// uniqueness compares the cost of a unique enqueue: on each side, after a
// warm-up, blocks of sync enqueues without and with a unique key (a new
// key per job, held for an hour) alternate on one server.
func uniqueness(e *env) ([]row, error) {
	n := e.sz.enqueue
	var crPlain, crUniq, aPlain, aUniq []float64
	for i := range e.sz.reps {
		runs := []func() error{
			func() error {
				srv, stop, err := e.natsServer(false)
				if err != nil {
					return err
				}
				defer stop()
				p, u, err := crUniqueRates(srv.ClientURL(), n)
				crPlain, crUniq = append(crPlain, p...), append(crUniq, u...)
				return err
			},
			func() error {
				p, u, err := e.asynqUniqueRates(n)
				aPlain, aUniq = append(aPlain, p...), append(aUniq, u...)
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
	// Time per enqueue, unique over plain: what uniqueness multiplies an
	// enqueue's cost by on each side.
	cr, ar := median(crPlain)/median(crUniq), median(aPlain)/median(aUniq)
	return []row{
		{Scenario: fmt.Sprintf("unique enqueue, sync, a new key per job, %d jobs", n), Unit: "jobs/s", Cloudrole: median(crUniq),
			Baseline: "asynq Enqueue with Unique", Base: median(aUniq), Ratio: median(crUniq) / median(aUniq)},
		{Scenario: fmt.Sprintf("cost of uniqueness: unique ÷ plain time per enqueue (plain %.0f vs %.0f jobs/s)", median(crPlain), median(aPlain)), Unit: "×",
			Cloudrole: cr, Baseline: "asynq Unique ÷ asynq", Base: ar, Ratio: ar / cr},
	}, nil
}

// uniqueBlocks is how many blocks of each kind alternate per run.
const uniqueBlocks = 2

// crUniqueRates returns the rates (jobs/s) of blocks of n plain and n
// unique sync enqueues, alternating, after a warm-up of both.
func crUniqueRates(url string, n int) (plain, unique []float64, err error) {
	ctx := context.Background()
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	defer closeFn()
	run := time.Now().UnixNano()
	k := 0
	block := func(m int, uniq bool) (float64, error) {
		start := time.Now()
		for range m {
			k++
			var opts []queue.EnqueueOption
			if uniq {
				opts = append(opts, queue.WithUnique(queue.Unique{Key: fmt.Sprintf("k-%d-%d", run, k), For: time.Hour}))
			}
			if _, err := q.Enqueue(ctx, payload(time.Now()), opts...); err != nil {
				return 0, err
			}
		}
		return float64(m) / time.Since(start).Seconds(), nil
	}
	if _, err := block(max(20, n/10), false); err != nil {
		return nil, nil, err
	}
	if _, err := block(max(20, n/10), true); err != nil { // makes the bucket
		return nil, nil, err
	}
	for range uniqueBlocks {
		p, err := block(n, false)
		if err != nil {
			return nil, nil, err
		}
		u, err := block(n, true)
		if err != nil {
			return nil, nil, err
		}
		plain, unique = append(plain, p), append(unique, u)
	}
	return plain, unique, nil
}

func (e *env) asynqUniqueRates(n int) (plain, unique []float64, err error) {
	if err := e.flushRedis(); err != nil {
		return nil, nil, err
	}
	c := e.asynqClient()
	defer c.Close()
	k := 0
	block := func(m int, uniq bool) (float64, error) {
		start := time.Now()
		for range m {
			k++
			opts := []asynq.Option{asynq.MaxRetry(0)}
			if uniq {
				opts = append(opts, asynq.Unique(time.Hour)) // the payload differs per job: a new key each
			}
			p := payload(time.Now())
			binary.LittleEndian.PutUint64(p[8:], uint64(k))
			if _, err := c.Enqueue(asynq.NewTask(asynqType, p), opts...); err != nil {
				return 0, err
			}
		}
		return float64(m) / time.Since(start).Seconds(), nil
	}
	if _, err := block(max(20, n/10), false); err != nil {
		return nil, nil, err
	}
	if _, err := block(max(20, n/10), true); err != nil {
		return nil, nil, err
	}
	for range uniqueBlocks {
		p, err := block(n, false)
		if err != nil {
			return nil, nil, err
		}
		u, err := block(n, true)
		if err != nil {
			return nil, nil, err
		}
		plain, unique = append(plain, p), append(unique, u)
	}
	return plain, unique, nil
}

// fairness: key A floods its level with jobs, then key B enqueues a few.
// How long until all of B's jobs started, and how many jobs started
// meanwhile, with Fairness (keys in turn) and without (FIFO), in the same
// run; a 1 ms handler with 8 at a time.
func fairness(e *env) ([]row, error) {
	a, b := e.sz.flood, e.sz.floodB
	var ft, fs, pt, ps []float64
	for i := range e.sz.reps {
		runs := []bool{true, false}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, fair := range runs {
			srv, stop, err := e.natsServer(false)
			if err != nil {
				return nil, err
			}
			took, starts, err := crFairness(srv.ClientURL(), a, b, 8, fair)
			stop()
			if err != nil {
				return nil, err
			}
			if fair {
				ft, fs = append(ft, took), append(fs, starts)
			} else {
				pt, ps = append(pt, took), append(ps, starts)
			}
		}
	}
	name := fmt.Sprintf("fairness: key B's %d jobs after key A's %d, 1 ms ×8,", b, a)
	return []row{
		{Scenario: name + " B enqueued → all of B started", Unit: "ms", Cloudrole: median(ft), Baseline: "same queue without Fairness (FIFO)", Base: median(pt), Ratio: median(pt) / median(ft)},
		{Scenario: name + " jobs started before B's last", Unit: "jobs", Cloudrole: median(fs), Baseline: "same queue without Fairness (FIFO)", Base: median(ps), Ratio: median(ps) / median(fs)},
	}, nil
}

func crFairness(url string, a, b, conc int, fair bool) (took, starts float64, err error) {
	ctx := context.Background()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: url}})
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	c, err := p.Client(ctx)
	if err != nil {
		return 0, 0, err
	}
	q, err := c.Queue(ctx, "fair", queue.Config{Fairness: fair, AckWait: time.Minute})
	if err != nil {
		return 0, 0, err
	}
	var started, bStarted atomic.Int64
	var once sync.Once
	done := make(chan struct{})
	var at, before int64
	stop := work(q, conc, func(_ context.Context, j *queue.Job) error {
		n := started.Add(1)
		if len(j.Payload) == 129 && bStarted.Add(1) == int64(b) {
			once.Do(func() {
				at, before = time.Now().UnixNano(), n
				close(done)
			})
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	defer stop()
	enqueue := func(key string, n int, extra bool) error {
		for first := 0; first < n; first += 1000 {
			msgs := make([]queue.Message, min(1000, n-first))
			for i := range msgs {
				pl := payload(time.Now())
				if extra {
					pl = append(pl, 1)
				}
				var opts []queue.EnqueueOption
				if fair {
					opts = append(opts, queue.WithKey(key))
				}
				msgs[i] = queue.Message{Payload: pl, Options: opts}
			}
			if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
				return err
			}
		}
		return nil
	}
	if err := enqueue("A", a, false); err != nil {
		return 0, 0, err
	}
	bFrom, startedBefore := time.Now().UnixNano(), started.Load()
	if err := enqueue("B", b, true); err != nil {
		return 0, 0, err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		return 0, 0, fmt.Errorf("B's jobs not all started in 10 minutes (fair %v)", fair)
	}
	return float64(at-bFrom) / 1e6, float64(before - startedBefore - int64(b)), nil
}
