package queue

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

type worker struct {
	q    *Queue
	h    Handler
	o    WorkerOptions
	log  *slog.Logger
	hctx context.Context

	levels    int
	maybe     []atomic.Bool   // level may hold deliverable jobs
	waitSince []atomic.Int64  // unix nanos since the level waits unserved
	lastSeq   []atomic.Uint64 // highest stream sequence fetched per level
	bellSeq   []atomic.Uint64 // highest stream sequence announced per level
	gen       []atomic.Uint64 // bumped each time a level is marked
	pull      *puller
	fresh     []bool // level not fetched yet (dispatcher-owned)
	current   []int  // smooth weighted round robin state (dispatcher-owned)
	d         dispatchState
	wake      chan struct{} // a bell rang
	slotFree  chan struct{} // a handler finished or acks were confirmed, and held fell to wakeAt
	wakeAt    atomic.Int64
	acks      *acker
	running   atomic.Int64
	wg        sync.WaitGroup // jobs in flight
	jobs      chan job       // to idle handler goroutines
	pool      sync.WaitGroup // handler goroutines
	spawned   int            // handler goroutines started (dispatcher-owned)

	cancels  *cancelWatch // the queue's cancel requests; nil without TrackStatus
	tok      *fleetTokens // the fleet's tokens this worker holds; nil without FleetConcurrency or FleetRateLimit
	fair     []*fairLevel // per level, the keys taken in turn; nil without Fairness
	keyMaker chan keyJob  // new keys whose consumers to create

	mu      sync.Mutex
	flying  map[*Job]*flight
	nextDue time.Time // earliest end of a retry delay we set

	processed, failed, dead, cancelled atomic.Int64
}

type flight struct {
	started   time.Time
	given     bool // handed back during drain; the handler's outcome is ignored
	lastBeat  time.Time
	tok       *nats.Msg               // the fleet token the job runs under; nil without FleetConcurrency
	cancel    context.CancelCauseFunc // the handler's context; nil without cancel requests
	cancelled bool                    // its cancel request arrived: the outcome is cancelled
}

// Work runs h on the queue's jobs until ctx ends, then drains: it stops
// fetching, lets in-flight handlers finish for up to DrainTimeout, then
// cancels their contexts and hands their jobs back so another worker takes
// them at once. A job handed back keeps its attempt count: a stop (drain,
// deploy, recycle) never uses up an attempt, so repeated deploys in the
// middle of a long job never dead-letter it (see the package doc). It returns nil after the drain, once
// every handler has returned (a handler that ignores its context delays
// the return). It returns an error if it could not start, or one wrapping
// ErrClosed, after the same drain, if the connection was closed under it.
// Any number of workers, in this and other processes, may work the same
// queue.
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
	w := &worker{
		q:         q,
		h:         h,
		o:         o,
		log:       hostctx.Logger(ctx, o.Logger).With("queue", q.name),
		levels:    q.cfg.Levels,
		maybe:     make([]atomic.Bool, q.cfg.Levels),
		waitSince: make([]atomic.Int64, q.cfg.Levels),
		lastSeq:   make([]atomic.Uint64, q.cfg.Levels),
		gen:       make([]atomic.Uint64, q.cfg.Levels),
		bellSeq:   make([]atomic.Uint64, q.cfg.Levels),
		fresh:     make([]bool, q.cfg.Levels),
		current:   make([]int, q.cfg.Levels),
		wake:      make(chan struct{}, 1),
		slotFree:  make(chan struct{}, 1),
		jobs:      make(chan job),
		flying:    make(map[*Job]*flight),
	}
	now := time.Now().UnixNano()
	for l := range w.levels {
		w.maybe[l].Store(true)
		w.waitSince[l].Store(now)
		w.fresh[l] = true
	}
	w.pull, err = newPuller(q.c.nc, min(pullLanes, o.Concurrency), o.Concurrency)
	if err != nil {
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	}
	defer w.pull.close()
	sub, err := q.c.nc.Subscribe(bellSubject(q.name), w.onBell)
	if err != nil {
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if host := hostctx.From(ctx); host != nil {
		_, remove := host.Status.Add("queue:"+q.name, w.snapshot)
		defer remove()
	}
	// Created last of what can fail: it is closed after the drain below.
	w.acks, err = newAcker(q.c.nc, w.log, q.cfg.Levels, q.cfg.AckWait, w.wakeIfFree)
	if err != nil {
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	}
	hctx, hcancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hcancel(nil)
	w.hctx = hctx
	if q.ctl != nil {
		// Before the first fetch: a job cancelled before this worker
		// started must not start.
		w.cancels, err = watchCancels(hctx, q.ctl, w.cancelRunning)
		if err != nil {
			w.acks.close(0)
			return fmt.Errorf("queue %q: watching cancel requests: %w", q.name, err)
		}
		defer w.cancels.stop()
	}

	if w.tok, err = newFleetTokens(q.c.nc, q.name, q.cfg, o.Concurrency); err != nil {
		w.acks.close(0)
		return fmt.Errorf("queue %q: subscribe: %w", q.name, err)
	} else if w.tok != nil {
		defer w.tok.close()
	}
	if q.cfg.Fairness {
		w.fair = make([]*fairLevel, w.levels)
		for l := range w.fair {
			w.fair[l] = newFairLevel(q.name, l)
		}
		w.keyMaker = make(chan keyJob, 1024)
		kctx, kcancel := context.WithCancel(hctx)
		kdone := make(chan struct{})
		go func() {
			defer close(kdone)
			w.makeKeyConsumers(kctx, w.keyMaker)
		}()
		defer func() { kcancel(); <-kdone }()
		if err := w.discoverKeys(ctx); err != nil {
			w.acks.close(0)
			return err
		}
	}

	beatDone := make(chan struct{})
	beatStop := make(chan struct{})
	go func() {
		defer close(beatDone)
		w.heartbeats(beatStop)
	}()

	derr := w.dispatch(ctx)

	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(o.DrainTimeout)
	select {
	case <-done:
	case <-t.C:
		n := w.giveBack()
		w.log.Warn("queue: drain timeout; handing in-flight jobs back", "jobs", n, "timeout", o.DrainTimeout)
		hcancel(ErrDraining)
		<-done
	}
	t.Stop()
	close(w.jobs)
	w.pool.Wait()
	w.acks.close(ackSettleWait)
	close(beatStop)
	<-beatDone
	_ = q.c.nc.Flush()
	return derr
}

// onBell runs on the connection's goroutine for each stored job's
// headers-only copy; it only marks the level and wakes the dispatcher.
func (w *worker) onBell(m *nats.Msg) {
	subj := m.Subject
	if w.fair != nil {
		// cloudrole.bell.<name>.<level>.<the job's subject>: take the level.
		rest := subj[min(len(subj), len(bellSubject(w.q.name))-1):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			subj = rest[:i]
		}
	}
	i := strings.LastIndexByte(subj, '.')
	l, err := strconv.Atoi(subj[i+1:])
	if err != nil || l < 0 || l >= w.levels {
		return
	}
	if seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64); err == nil {
		if seq <= w.lastSeq[l].Load() {
			return // already fetched: a late notice
		}
		storeMax(&w.bellSeq[l], seq)
	}
	if w.fair != nil {
		w.fairBell(l, m.Header.Get(jetstream.SubjectHeader), time.Now().UnixNano())
	} else {
		w.mark(l, time.Now().UnixNano())
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	if w.o.bellHook != nil {
		w.o.bellHook(l)
	}
}

func storeMax(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// job is a received job waiting for a handler goroutine.
type job struct {
	m   *nats.Msg
	l   int
	d   delivery  // zero when the reply was no ack subject
	tok *nats.Msg // its fleet token, or nil
}

// start hands a received job to an idle handler goroutine, or starts one.
// Handler goroutines stay for the worker's life, at most Concurrency of
// them: reusing them saves a goroutine start per job, and the channel
// wakes idle ones in turn, so jobs start (and are acknowledged) close to
// the order they arrived, which keeps the server's ack bookkeeping cheap.
// Only the dispatcher calls start.
func (w *worker) start(m *nats.Msg, l int, d delivery, tok *nats.Msg) {
	w.running.Add(1)
	w.q.stats.inflight.Add(1)
	w.wg.Add(1)
	j := job{m, l, d, tok}
	select {
	case w.jobs <- j:
		return
	default:
	}
	if w.spawned < w.o.Concurrency {
		w.spawned++
		w.pool.Add(1)
		go w.handlerLoop(j)
		return
	}
	// Every goroutine is taken, yet a slot is free: one of them has
	// finished its job and is on its way back.
	w.jobs <- j
}

func (w *worker) handlerLoop(j job) {
	defer w.pool.Done()
	for ok := true; ok; j, ok = <-w.jobs {
		w.run(j.m, j.l, j.d, j.tok)
		w.q.stats.inflight.Add(-1)
		w.running.Add(-1)
		w.wakeIfFree()
		w.wg.Done()
	}
}

// held is the number of slots taken: jobs running, plus finished jobs
// whose ack the server has not confirmed beyond the ack window. Jobs
// running plus jobs asked for never exceed Concurrency minus the excess,
// so at most Concurrency jobs run and at most Concurrency more wait for
// their ack's confirmation: what a crash can make run again.
func (w *worker) held() int64 {
	return w.running.Load() + max(0, w.acks.unconfirmed.Load()-int64(w.o.Concurrency))
}

// wakeIfFree wakes the dispatcher when a finished handler or a confirmed
// ack brought held down to the count it waits for.
func (w *worker) wakeIfFree() {
	if w.held() <= w.wakeAt.Load() {
		select {
		case w.slotFree <- struct{}{}:
		default:
		}
	}
}

func (w *worker) run(m *nats.Msg, l int, dl delivery, tok *nats.Msg) {
	defer releaseToken(tok) // after the flight is gone: the heartbeats no longer touch it
	cfg := &w.q.cfg
	subject := m.Subject
	if w.fair != nil {
		subject = withoutKey(subject)
	}
	env := decodeHeaders(subject, m.Header, cfg.Levels, cfg.DefaultPriority)
	j := &Job{
		ID:        env.ID,
		Priority:  env.Priority,
		Attempt:   1,
		Payload:   m.Data,
		Headers:   userHeaders(m.Header),
		msg:       m,
		env:       env,
		maxResult: cfg.MaxResult,
		wk:        w,
	}
	var seq uint64
	if dl.attempts > 0 {
		j.Attempt = int(min(dl.attempts, 1<<31))
		j.EnqueuedAt = dl.stored
		seq = dl.seq
	}
	if _, ok := m.Header[jetstream.SchedulerHeader]; ok {
		fired(m, j) // stored by the server's scheduler: due time, a fire's ID
	}
	carried(m, j)
	if w.fair != nil {
		j.Key = keyOf(m.Subject)
	}
	if j.ID == "" {
		// Each level is its own stream, numbered from 1: the level keeps
		// generated IDs unique within the queue.
		j.ID = "seq-" + strconv.Itoa(l) + "-" + strconv.FormatUint(seq, 10)
	}
	if len(env.Problems) > 0 {
		w.log.Warn("queue: job with malformed envelope; using defaults", "id", j.ID, "level", l, "problems", env.Problems)
	}
	if w.cancels.has(j.ID) {
		w.finishCancelled(j, false)
		return
	}
	if j.Attempt > cfg.MaxDeliver {
		w.deadLetter(j, l, seq, 0, fmt.Errorf("delivered %d times (MaxDeliver %d) without an outcome: its workers stopped or crashed", j.Attempt, cfg.MaxDeliver))
		return
	}
	fl := &flight{started: time.Now(), tok: tok}
	hctx := w.hctx
	if w.cancels != nil {
		// A context of its own, so a cancel request ends only this job.
		var cancel context.CancelCauseFunc
		hctx, cancel = context.WithCancelCause(w.hctx)
		defer cancel(nil)
		fl.cancel = cancel
	}
	w.mu.Lock()
	w.flying[j] = fl
	w.mu.Unlock()
	if w.cancels.has(j.ID) {
		// The request arrived between the check above and the flight's
		// registration, where cancelRunning could not see it.
		w.mu.Lock()
		delete(w.flying, j)
		w.mu.Unlock()
		w.finishCancelled(j, false)
		return
	}
	w.q.writeStatus(JobStatus{ID: j.ID, State: StateRunning, Attempts: j.Attempt, Enqueued: j.EnqueuedAt, Due: j.Due})
	c := w.q.c
	if c.observed() {
		var waited time.Duration
		if !j.EnqueuedAt.IsZero() {
			waited = fl.started.Sub(j.EnqueuedAt)
		}
		c.emit(JobStarted{Queue: w.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Waited: waited})
	}

	err := w.call(hctx, j)
	j.endProgress()

	w.mu.Lock()
	given, cancelled := fl.given, fl.cancelled
	delete(w.flying, j)
	w.mu.Unlock()
	if given {
		if c.observed() {
			c.emit(JobHandedBack{Queue: w.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt})
		}
		return
	}
	if cancelled {
		w.finishCancelled(j, true)
		return
	}
	if err == nil {
		w.acks.ack(m.Reply, j.ID, l)
		w.finished(j)
		w.q.stats.processed.Add(1)
		w.processed.Add(1)
		res := j.getResult()
		w.q.writeStatus(JobStatus{ID: j.ID, State: StateSucceeded, Attempts: j.Attempt, Result: res, Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
		w.reply(j, "succeeded", res)
		if c.observed() {
			c.emit(JobSucceeded{Queue: w.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Took: time.Since(fl.started)})
		}
		return
	}
	if sz, ok := asSnooze(err); ok {
		if err = w.snooze(j, l, seq, sz.Delay, time.Since(fl.started)); err == nil {
			return
		}
	}
	w.q.stats.failed.Add(1)
	w.failed.Add(1)
	w.q.stats.setErr(err)
	if IsPermanent(err) || j.Attempt >= cfg.MaxDeliver {
		w.deadLetter(j, l, seq, time.Since(fl.started), err)
		return
	}
	d := cfg.backoff(j.Attempt, randN)
	w.log.Info("queue: job failed; will retry", "id", j.ID, "attempt", j.Attempt, "delay", d, "err", err)
	if nerr := m.NakWithDelay(d); nerr != nil {
		w.log.Warn("queue: nak failed; the job comes back after AckWait", "id", j.ID, "err", nerr)
	}
	w.noteDue(time.Now().Add(d))
	w.q.writeStatus(JobStatus{ID: j.ID, State: StateFailed, Attempts: j.Attempt, LastError: trunc512(err.Error()), Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
	if c.observed() {
		c.emit(JobFailed{Queue: w.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Took: time.Since(fl.started), Err: err, RetryIn: d})
	}
}

func (w *worker) noteDue(t time.Time) {
	w.mu.Lock()
	if w.nextDue.IsZero() || t.Before(w.nextDue) {
		w.nextDue = t
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}: // let an idle dispatcher re-arm its timer
	default:
	}
}

// call runs the handler, turning a panic into a *PanicError.
func (w *worker) call(ctx context.Context, j *Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			st := debug.Stack()
			w.log.Error("queue: handler panicked", "id", j.ID, "panic", fmt.Sprint(r), "stack", string(st))
			err = &PanicError{Value: r, Stack: st}
		}
	}()
	return w.h(extractTrace(ctx, j.msg.Header), j)
}

// finished releases what job j held while active, now that it has an
// outcome (succeeded, dead-lettered or cancelled): its unique key, and a
// cancel request that came too late to matter.
func (w *worker) finished(j *Job) {
	if key := j.msg.Header[hdrUnique]; len(key) > 0 {
		w.q.releaseUnique(w.hctx, key[0], j.ID, 0)
	}
	if w.cancels.has(j.ID) {
		w.q.dropCancel(w.hctx, j.ID)
	}
}

// cancelRunning cancels the handler's context of a running job id whose
// cancel request just arrived (from the watch's goroutine).
func (w *worker) cancelRunning(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for j, f := range w.flying {
		if j.ID == id && f.cancel != nil && !f.cancelled && !f.given {
			f.cancelled = true
			f.cancel(ErrCancelled)
		}
	}
}

// finishCancelled ends a cancelled job: terminated (never delivered again),
// its request removed, its state cancelled. running says whether its
// handler had started.
func (w *worker) finishCancelled(j *Job, running bool) {
	if err := j.msg.Term(); err != nil {
		w.log.Warn("queue: term of a cancelled job failed; it comes back and is cancelled again", "id", j.ID, "err", err)
		return
	}
	w.finished(j) // drops the request too
	w.cancelled.Add(1)
	w.q.stats.cancelled.Add(1)
	w.log.Info("queue: job cancelled", "id", j.ID, "attempt", j.Attempt, "was_running", running)
	w.q.writeStatus(JobStatus{ID: j.ID, State: StateCancelled, Attempts: j.Attempt, Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
	w.reply(j, "cancelled", nil)
	if c := w.q.c; c.observed() {
		c.emit(JobCancelled{Queue: w.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Running: running})
	}
}

func (w *worker) reply(j *Job, outcome string, body []byte) {
	if j.env.Reply == "" {
		return
	}
	m := &nats.Msg{Subject: j.env.Reply, Header: nats.Header{hdrID: {j.ID}, hdrOutcome: {outcome}}, Data: body}
	if err := w.q.c.nc.PublishMsg(m); err != nil {
		w.log.Warn("queue: reply failed", "id", j.ID, "subject", j.env.Reply, "err", err)
	}
}

// deadLetter stores the job in the dead-letter stream, then terminates it.
// If the store fails the job is retried later instead, so nothing is lost.
func (w *worker) deadLetter(j *Job, l int, seq uint64, took time.Duration, cause error) {
	h := nats.Header{}
	for k, v := range j.msg.Header {
		if !hasPrefixFold(k, "Nats-") {
			h[k] = v
		}
	}
	h[hdrID] = []string{j.ID}
	h[hdrError] = []string{trunc512(cause.Error())}
	h[hdrAttempts] = []string{strconv.Itoa(j.Attempt)}
	h[hdrDeadAt] = []string{nowRFC()}
	h[hdrPriority] = []string{strconv.Itoa(int(j.Priority))}
	if !j.EnqueuedAt.IsZero() {
		h[hdrEnqueued] = []string{j.EnqueuedAt.UTC().Format(time.RFC3339Nano)}
	}
	// Dedupe: a dead-lettering of the same stored job repeated after a
	// lost Term stores once. Level and sequence name the stored job (each
	// level's stream counts from 1, and producers may reuse an ID across
	// levels); without a sequence nothing names it, so no dedupe.
	if seq > 0 {
		h[jetstream.MsgIDHeader] = []string{"dead-" + strconv.Itoa(l) + "-" + strconv.FormatUint(seq, 10) + "-" + j.ID}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := w.q.c.js.PublishMsg(ctx, &nats.Msg{Subject: dlqSubject(w.q.name), Header: h, Data: j.Payload})
	if err != nil {
		d := w.q.cfg.backoff(j.Attempt, randN)
		w.log.Error("queue: dead-lettering failed; retrying the job later", "id", j.ID, "err", err, "delay", d)
		_ = j.msg.NakWithDelay(d)
		return
	}
	if err := j.msg.Term(); err != nil {
		w.log.Warn("queue: term failed; the job may be dead-lettered again (deduplicated)", "id", j.ID, "err", err)
	}
	w.q.stats.dead.Add(1)
	w.dead.Add(1)
	w.finished(j)
	w.log.Warn("queue: job dead-lettered", "id", j.ID, "attempts", j.Attempt, "err", cause)
	w.q.writeStatus(JobStatus{ID: j.ID, State: StateDead, Attempts: j.Attempt, LastError: trunc512(cause.Error()), Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
	w.reply(j, "dead", []byte(cause.Error()))
	if c := w.q.c; c.observed() {
		c.emit(JobDeadLettered{Queue: w.q.name, ID: j.ID, Priority: j.Priority, Attempts: j.Attempt, Took: took, Err: cause})
	}
}

// heartbeats sends InProgress for every job running longer than AckWait/3,
// every AckWait/3, so long handlers keep their lease.
func (w *worker) heartbeats(stop <-chan struct{}) {
	every := w.q.cfg.AckWait / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			w.mu.Lock()
			for j, f := range w.flying {
				last := f.lastBeat
				if last.IsZero() {
					last = f.started
				}
				if !f.given && now.Sub(last) >= every-every/10 {
					f.lastBeat = now
					_ = j.msg.InProgress()
					if f.tok != nil {
						_ = f.tok.InProgress()
					}
				}
			}
			w.mu.Unlock()
		}
	}
}

// giveBack hands every in-flight job back at once, without using up the
// attempt it was in (see handBack), and returns how many.
func (w *worker) giveBack() int {
	w.mu.Lock()
	var back []*Job
	for j, f := range w.flying {
		if !f.given {
			f.given = true // from now on only handBack acks its message
			back = append(back, j)
		}
	}
	w.mu.Unlock()
	w.handBack(back)
	return len(back)
}

// writeProgress records the running job j's progress p.
func (w *worker) writeProgress(j *Job, p Progress) {
	w.q.writeStatus(JobStatus{ID: j.ID, State: StateRunning, Attempts: j.Attempt, Enqueued: j.EnqueuedAt, Due: j.Due, Progress: &p})
}

// maxRunningShown caps WorkerStatus.Running.
const maxRunningShown = 100

// RunningJob is a job a worker is running, in its status section.
type RunningJob struct {
	ID       string    `json:"id"`
	Priority Priority  `json:"priority"`
	Attempt  int       `json:"attempt"`
	Started  time.Time `json:"started_at"`
	Progress *Progress `json:"progress,omitempty"`
}

// WorkerStatus is the "queue:<name>" status section of a running worker.
type WorkerStatus struct {
	QueueFigure
	Concurrency     int   `json:"concurrency"`
	WorkerInFlight  int64 `json:"worker_in_flight"`
	WorkerProcessed int64 `json:"worker_processed"`
	WorkerFailed    int64 `json:"worker_failed"`
	WorkerDead      int64 `json:"worker_dead_lettered"`
	WorkerCancelled int64 `json:"worker_cancelled"`
	// Running lists the jobs running now, oldest first, with their
	// progress (at most 100).
	Running []RunningJob `json:"running,omitempty"`
}

func (w *worker) snapshot() any {
	return WorkerStatus{
		QueueFigure:     w.q.figure(),
		Concurrency:     w.o.Concurrency,
		WorkerInFlight:  w.running.Load(),
		WorkerProcessed: w.processed.Load(),
		WorkerFailed:    w.failed.Load(),
		WorkerDead:      w.dead.Load(),
		WorkerCancelled: w.cancelled.Load(),
		Running:         w.runningJobs(),
	}
}

// runningJobs lists the jobs in flight for the status section.
func (w *worker) runningJobs() []RunningJob {
	type running struct {
		j *Job
		r RunningJob
	}
	w.mu.Lock()
	list := make([]running, 0, len(w.flying))
	for j, f := range w.flying {
		if !f.given {
			list = append(list, running{j, RunningJob{ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Started: f.started.UTC()}})
		}
	}
	w.mu.Unlock()
	if len(list) == 0 {
		return nil
	}
	slices.SortFunc(list, func(a, b running) int { return a.r.Started.Compare(b.r.Started) })
	out := make([]RunningJob, 0, min(len(list), maxRunningShown))
	for _, e := range list[:min(len(list), maxRunningShown)] {
		e.r.Progress = e.j.lastProgress()
		out = append(out, e.r)
	}
	return out
}
