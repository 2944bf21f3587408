package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
)

// WorkerOptions shapes one Work call. The zero value is valid.
type WorkerOptions struct {
	// Concurrency is the number of jobs handled at once. The worker
	// fetches only as many jobs as it has free slots, so a high-priority
	// job never waits behind a prefetched buffer. A finished job counts
	// until the server confirms its ack: at most Concurrency finished jobs
	// may await that confirmation (the server works through acks at the
	// disk's fsync rate under sync "always"); beyond that, their slots stay
	// taken. So the worker holds at most 2 × Concurrency jobs
	// unacknowledged, and a crash re-runs at most that many. Defaults to 1.
	Concurrency int
	// RateLimit caps the jobs started per second (a token bucket with
	// RateBurst tokens); 0 (the default) means no limit.
	RateLimit float64
	// RateBurst is the token bucket size. Defaults to 1.
	RateBurst int
	// DrainTimeout is how long in-flight handlers may run after ctx ends;
	// then their contexts are cancelled (cause ErrDraining) and their jobs
	// handed back at once for another worker, without using up the
	// attempt they were in. Defaults to 10s.
	DrainTimeout time.Duration
	// Aging turns on the anti-starvation policy; 0 (the default) is
	// strict priority. See the package doc for the exact rule.
	Aging time.Duration
	// Shares, if set, replaces strict priority with weighted shares: one
	// positive weight per level (e.g. 6, 3, 1), and among the levels that
	// have jobs, level l gets Shares[l]/sum of their shares of the jobs
	// started (smooth weighted round robin). Aging still applies on top.
	// It fetches one job per request, so it costs throughput. Defaults to
	// nil: strict priority.
	Shares []int
	// ProgressInterval is the least time between two writes of one job's
	// progress (Job.SetProgress) to its status record, so a chatty
	// handler cannot flood NATS: the latest value is written when its
	// turn comes. Defaults to 1s; at least 100ms.
	ProgressInterval time.Duration
	// PollInterval is how often an idle worker looks again at every level
	// without being told of a new job (for jobs coming back after a retry
	// delay or an expired lease). New jobs wake it at once. Defaults to
	// 250ms.
	PollInterval time.Duration
	// Logger defaults to the host's logger from ctx, else discarding.
	Logger *slog.Logger

	// bellHook, set only by tests, sees each new-job notice after the
	// worker recorded it.
	bellHook func(level int)
}

func (o WorkerOptions) withDefaults() (WorkerOptions, error) {
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.Concurrency < 0 || o.Concurrency > 10000 {
		return o, fmt.Errorf("%w: Concurrency %d: want 1..10000", ErrBadConfig, o.Concurrency)
	}
	if o.RateLimit < 0 {
		return o, fmt.Errorf("%w: RateLimit %v is negative", ErrBadConfig, o.RateLimit)
	}
	if o.RateBurst == 0 {
		o.RateBurst = 1
	}
	if o.RateBurst < 0 {
		return o, fmt.Errorf("%w: RateBurst %d is negative", ErrBadConfig, o.RateBurst)
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.PollInterval == 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.ProgressInterval == 0 {
		o.ProgressInterval = time.Second
	}
	if o.ProgressInterval < 100*time.Millisecond {
		return o, fmt.Errorf("%w: ProgressInterval %v: want at least 100ms", ErrBadConfig, o.ProgressInterval)
	}
	for i, sh := range o.Shares {
		if sh <= 0 {
			return o, fmt.Errorf("%w: Shares[%d] is %d; every share must be positive", ErrBadConfig, i, sh)
		}
	}
	if o.DrainTimeout < 0 || o.Aging < 0 || o.PollInterval < 0 {
		return o, fmt.Errorf("%w: DrainTimeout, Aging and PollInterval must not be negative", ErrBadConfig)
	}
	return o, nil
}

// A worker is two parts that own their state. The dispatcher (dispatch.go)
// is one goroutine that decides which level to ask for jobs and how many,
// from a slice of per-level states, and counts what its open requests
// owe from the requests themselves. The executor (execute.go) runs what
// arrives and settles each job: ack (through the acker, ack.go), retry,
// snooze, dead letter, cancel, reply, heartbeats and hand-back on drain.
// The dispatcher hands jobs over with executor.start and reads
// executor.held; the executor reaches back only through two wake-ups.

// Work runs h on the queue's jobs until ctx ends, then drains: it stops
// fetching, lets in-flight handlers finish for up to DrainTimeout, then
// cancels their contexts and hands their jobs back so another worker takes
// them at once. A job handed back keeps its attempt count: a stop (drain,
// deploy, recycle) never uses up an attempt, so repeated deploys in the
// middle of a long job never dead-letter it (see the package doc). It
// returns nil after the drain, once every handler has returned (a handler
// that ignores its context delays the return). It returns an error if it
// could not start, or one wrapping ErrClosed, after the same drain, if the
// connection was closed under it. Any number of workers, in this and other
// processes, may work the same queue.
//
// With a host in ctx, Work shows a "queue:<name>" status section while it
// runs.
func (q *Queue) Work(ctx context.Context, h Handler, opts WorkerOptions) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", ErrBadConfig)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if o.Shares != nil && len(o.Shares) != q.cfg.Levels {
		return fmt.Errorf("%w: %d Shares for queue %q with %d levels", ErrBadConfig, len(o.Shares), q.name, q.cfg.Levels)
	}
	log := hostctx.Logger(ctx, o.Logger).With("queue", q.name)
	d := newDispatcher(q, o, log)
	x := &executor{
		q: q, h: h, log: log,
		concurrency:   o.Concurrency,
		progressEvery: o.ProgressInterval,
		fair:          q.cfg.Fairness,
		freed:         d.wakeIfFree,
		retryAt:       d.noteDue,
		jobs:          make(chan job),
		flying:        make(map[*Job]*flight),
	}
	d.x = x
	d.pull, err = newPuller(q.c.nc, min(pullLanes, o.Concurrency), o.Concurrency)
	if err != nil {
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	}
	defer d.pull.close()
	sub, err := q.c.nc.Subscribe(bellSubject(q.name), d.onBell)
	if err != nil {
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if host := hostctx.From(ctx); host != nil {
		_, remove := host.Status.Add("queue:"+q.name, x.snapshot)
		defer remove()
	}
	// Created last of what can fail: it is closed after the drain below.
	x.acks, err = newAcker(q.c.nc, q.c.commit, log, q.cfg.Levels, q.cfg.AckWait, d.wakeIfFree)
	if err != nil {
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	}
	hctx, hcancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hcancel(nil)
	x.hctx = hctx
	if q.ctl != nil {
		// Before the first fetch: a job cancelled before this worker
		// started must not start.
		x.cancels, err = watchCancels(hctx, q.ctl, x.cancelRunning)
		if err != nil {
			x.acks.close(0)
			return fmt.Errorf("queue %q: watching cancel requests: %w", q.name, err)
		}
		defer x.cancels.stop()
	}

	if d.tok, err = newFleetTokens(q.c.nc, q.name, q.cfg, o.Concurrency); err != nil {
		x.acks.close(0)
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	} else if d.tok != nil {
		defer d.tok.close()
	}
	if d.fair {
		kctx, kcancel := context.WithCancel(hctx)
		kdone := make(chan struct{})
		go func() {
			defer close(kdone)
			d.makeKeyConsumers(kctx, d.keyMaker)
		}()
		defer func() { kcancel(); <-kdone }()
		if err := d.discoverKeys(ctx); err != nil {
			x.acks.close(0)
			return err
		}
	}

	beatDone := make(chan struct{})
	beatStop := make(chan struct{})
	go func() {
		defer close(beatDone)
		x.heartbeats(beatStop)
	}()

	derr := d.dispatch(ctx)

	done := make(chan struct{})
	go func() {
		x.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(o.DrainTimeout)
	select {
	case <-done:
	case <-t.C:
		n := x.giveBack()
		log.Warn("queue: drain timeout; handing in-flight jobs back", "jobs", n, "timeout", o.DrainTimeout)
		hcancel(ErrDraining)
		<-done
	}
	t.Stop()
	close(x.jobs)
	x.pool.Wait()
	x.acks.close(ackSettleWait)
	close(beatStop)
	<-beatDone
	_ = q.c.nc.Flush()
	return derr
}
