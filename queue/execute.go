package queue

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// executor runs the jobs its dispatcher received, on handler goroutines
// it keeps for the worker's life, and settles each: ack, retry with a
// delay, snooze, dead letter, cancel, reply, status and events. While a
// job runs its flight keeps its lease (heartbeats) and lets a drain hand
// it back. The dispatcher calls start and held; everything else runs on
// the handler goroutines, the heartbeat goroutine, the cancel watch and
// the drain, which share the flights under mu.
type executor struct {
	q             *Queue
	h             Handler
	log           *slog.Logger
	concurrency   int
	progressEvery time.Duration // WorkerOptions.ProgressInterval
	fair          bool          // jobs' subjects carry a fairness key
	hctx          context.Context
	acks          *acker
	cancels       *cancelWatch // the queue's cancel requests; nil without TrackStatus

	// Back to the dispatcher, from the handler and ack goroutines.
	freed   func()          // slots may have come free
	retryAt func(time.Time) // a job comes back at this time (a retry delay)

	running atomic.Int64   // jobs started and not finished
	wg      sync.WaitGroup // jobs in flight
	jobs    chan job       // to idle handler goroutines
	pool    sync.WaitGroup // handler goroutines
	spawned int            // handler goroutines started (only start touches it)

	mu     sync.Mutex
	flying map[*Job]*flight

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
func (x *executor) start(j job) {
	x.running.Add(1)
	x.q.stats.inflight.Add(1)
	x.wg.Add(1)
	select {
	case x.jobs <- j:
		return
	default:
	}
	if x.spawned < x.concurrency {
		x.spawned++
		x.pool.Add(1)
		go x.handlerLoop(j)
		return
	}
	// Every goroutine is taken, yet a slot is free: one of them has
	// finished its job and is on its way back.
	x.jobs <- j
}

func (x *executor) handlerLoop(j job) {
	defer x.pool.Done()
	for ok := true; ok; j, ok = <-x.jobs {
		x.run(j.m, j.l, j.d, j.tok)
		x.q.stats.inflight.Add(-1)
		x.running.Add(-1)
		x.freed()
		x.wg.Done()
	}
}

// held is the number of slots taken: jobs running, plus finished jobs
// whose ack the server has not confirmed beyond the ack window. Jobs
// running plus jobs asked for never exceed Concurrency minus the excess,
// so at most Concurrency jobs run and at most Concurrency more wait for
// their ack's confirmation: what a crash can make run again.
func (x *executor) held() int64 {
	return x.running.Load() + max(0, x.acks.unconfirmed.Load()-int64(x.concurrency))
}

func (x *executor) run(m *nats.Msg, l int, dl delivery, tok *nats.Msg) {
	defer releaseToken(tok) // after the flight is gone: the heartbeats no longer touch it
	cfg := &x.q.cfg
	subject := m.Subject
	if x.fair {
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
		wk:        x,
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
	if x.fair {
		j.Key = keyOf(m.Subject)
	}
	if j.ID == "" {
		j.ID = seqID(l, seq) // as Enqueue named it (or another tool's job)
	}
	if len(env.Problems) > 0 {
		x.log.Warn("queue: job with malformed envelope; using defaults", "id", j.ID, "level", l, "problems", env.Problems)
	}
	if x.cancels.has(j.ID) {
		x.finishCancelled(j, false)
		return
	}
	if j.Attempt > cfg.MaxDeliver {
		x.deadLetter(j, l, seq, 0, fmt.Errorf("delivered %d times (MaxDeliver %d) without an outcome: its workers stopped or crashed", j.Attempt, cfg.MaxDeliver))
		return
	}
	fl := &flight{started: time.Now(), tok: tok}
	hctx := x.hctx
	if x.cancels != nil {
		// A context of its own, so a cancel request ends only this job.
		var cancel context.CancelCauseFunc
		hctx, cancel = context.WithCancelCause(x.hctx)
		defer cancel(nil)
		fl.cancel = cancel
	}
	x.mu.Lock()
	x.flying[j] = fl
	x.mu.Unlock()
	if x.cancels.has(j.ID) {
		// The request arrived between the check above and the flight's
		// registration, where cancelRunning could not see it.
		x.mu.Lock()
		delete(x.flying, j)
		x.mu.Unlock()
		x.finishCancelled(j, false)
		return
	}
	x.q.writeStatus(JobStatus{ID: j.ID, State: StateRunning, Attempts: j.Attempt, Enqueued: j.EnqueuedAt, Due: j.Due})
	c := x.q.c
	if c.observed() {
		var waited time.Duration
		if !j.EnqueuedAt.IsZero() {
			waited = fl.started.Sub(j.EnqueuedAt)
		}
		c.emit(JobStarted{Queue: x.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Waited: waited})
	}

	err := x.call(hctx, j)
	j.endProgress()

	x.mu.Lock()
	given, cancelled := fl.given, fl.cancelled
	delete(x.flying, j)
	x.mu.Unlock()
	if given {
		if c.observed() {
			c.emit(JobHandedBack{Queue: x.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt})
		}
		return
	}
	if cancelled {
		x.finishCancelled(j, true)
		return
	}
	if err == nil {
		x.acks.ack(m.Reply, j.ID, l)
		x.finished(j)
		x.q.stats.processed.Add(1)
		x.processed.Add(1)
		res := j.getResult()
		x.q.writeStatus(JobStatus{ID: j.ID, State: StateSucceeded, Attempts: j.Attempt, Result: res, Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
		x.reply(j, "succeeded", res)
		if c.observed() {
			c.emit(JobSucceeded{Queue: x.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Took: time.Since(fl.started)})
		}
		return
	}
	if sz, ok := asSnooze(err); ok {
		if err = x.snooze(j, l, seq, sz.Delay, time.Since(fl.started)); err == nil {
			return
		}
	}
	x.q.stats.failed.Add(1)
	x.failed.Add(1)
	x.q.stats.setErr(err)
	if IsPermanent(err) || j.Attempt >= cfg.MaxDeliver {
		x.deadLetter(j, l, seq, time.Since(fl.started), err)
		return
	}
	d := cfg.backoff(j.Attempt, randN)
	x.log.Info("queue: job failed; will retry", "id", j.ID, "attempt", j.Attempt, "delay", d, "err", err)
	if nerr := m.NakWithDelay(d); nerr != nil {
		x.log.Warn("queue: nak failed; the job comes back after AckWait", "id", j.ID, "err", nerr)
	}
	x.retryAt(time.Now().Add(d))
	x.q.writeStatus(JobStatus{ID: j.ID, State: StateFailed, Attempts: j.Attempt, LastError: trunc512(err.Error()), Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
	if c.observed() {
		c.emit(JobFailed{Queue: x.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Took: time.Since(fl.started), Err: err, RetryIn: d})
	}
}

// call runs the handler, turning a panic into a *PanicError.
func (x *executor) call(ctx context.Context, j *Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			st := debug.Stack()
			x.log.Error("queue: handler panicked", "id", j.ID, "panic", fmt.Sprint(r), "stack", string(st))
			err = &PanicError{Value: r, Stack: st}
		}
	}()
	return x.h(extractTrace(ctx, j.msg.Header), j)
}

// finished releases what job j held while active, now that it has an
// outcome (succeeded, dead-lettered or cancelled): its unique key, and a
// cancel request that came too late to matter.
func (x *executor) finished(j *Job) {
	if key := j.msg.Header[hdrUnique]; len(key) > 0 {
		x.q.releaseUnique(x.hctx, key[0], j.ID, 0)
	}
	if x.cancels.has(j.ID) {
		x.q.dropCancel(x.hctx, j.ID)
	}
}

// cancelRunning cancels the handler's context of a running job id whose
// cancel request just arrived (from the watch's goroutine).
func (x *executor) cancelRunning(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for j, f := range x.flying {
		if j.ID == id && f.cancel != nil && !f.cancelled && !f.given {
			f.cancelled = true
			f.cancel(ErrCancelled)
		}
	}
}

// finishCancelled ends a cancelled job: terminated (never delivered again),
// its request removed, its state cancelled. running says whether its
// handler had started.
func (x *executor) finishCancelled(j *Job, running bool) {
	if err := j.msg.Term(); err != nil {
		x.log.Warn("queue: term of a cancelled job failed; it comes back and is cancelled again", "id", j.ID, "err", err)
		return
	}
	x.finished(j) // drops the request too
	x.cancelled.Add(1)
	x.q.stats.cancelled.Add(1)
	x.log.Info("queue: job cancelled", "id", j.ID, "attempt", j.Attempt, "was_running", running)
	x.q.writeStatus(JobStatus{ID: j.ID, State: StateCancelled, Attempts: j.Attempt, Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
	x.reply(j, "cancelled", nil)
	if c := x.q.c; c.observed() {
		c.emit(JobCancelled{Queue: x.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Running: running})
	}
}

func (x *executor) reply(j *Job, outcome string, body []byte) {
	if j.env.Reply == "" {
		return
	}
	m := &nats.Msg{Subject: j.env.Reply, Header: nats.Header{hdrID: {j.ID}, hdrOutcome: {outcome}}, Data: body}
	if err := x.q.c.nc.PublishMsg(m); err != nil {
		x.log.Warn("queue: reply failed", "id", j.ID, "subject", j.env.Reply, "err", err)
	}
}

// deadLetter stores the job in the dead-letter stream, then terminates it.
// If the store fails the job is retried later instead, so nothing is lost.
func (x *executor) deadLetter(j *Job, l int, seq uint64, took time.Duration, cause error) {
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
	_, err := x.q.c.js.PublishMsg(ctx, &nats.Msg{Subject: dlqSubject(x.q.name), Header: h, Data: j.Payload})
	if err == nil {
		// The dead letter on disk before the job is terminated.
		err = x.q.c.commit.wait(ctx)
	}
	if err != nil {
		d := x.q.cfg.backoff(j.Attempt, randN)
		x.log.Error("queue: dead-lettering failed; retrying the job later", "id", j.ID, "err", err, "delay", d)
		_ = j.msg.NakWithDelay(d)
		return
	}
	if err := j.msg.Term(); err != nil {
		x.log.Warn("queue: term failed; the job may be dead-lettered again (deduplicated)", "id", j.ID, "err", err)
	}
	x.q.stats.dead.Add(1)
	x.dead.Add(1)
	x.finished(j)
	x.log.Warn("queue: job dead-lettered", "id", j.ID, "attempts", j.Attempt, "err", cause)
	x.q.writeStatus(JobStatus{ID: j.ID, State: StateDead, Attempts: j.Attempt, LastError: trunc512(cause.Error()), Enqueued: j.EnqueuedAt, Due: j.Due, Progress: j.lastProgress()})
	x.reply(j, "dead", []byte(cause.Error()))
	if c := x.q.c; c.observed() {
		c.emit(JobDeadLettered{Queue: x.q.name, ID: j.ID, Priority: j.Priority, Attempts: j.Attempt, Took: took, Err: cause})
	}
}

// heartbeats sends InProgress for every job running longer than AckWait/3,
// every AckWait/3, so long handlers keep their lease.
func (x *executor) heartbeats(stop <-chan struct{}) {
	every := x.q.cfg.AckWait / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			x.mu.Lock()
			for j, f := range x.flying {
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
			x.mu.Unlock()
		}
	}
}

// giveBack hands every in-flight job back at once, without using up the
// attempt it was in (see handBack), and returns how many.
func (x *executor) giveBack() int {
	x.mu.Lock()
	var back []*Job
	for j, f := range x.flying {
		if !f.given {
			f.given = true // from now on only handBack acks its message
			back = append(back, j)
		}
	}
	x.mu.Unlock()
	x.handBack(back)
	return len(back)
}

// writeProgress records the running job j's progress p.
func (x *executor) writeProgress(j *Job, p Progress) {
	x.q.writeStatus(JobStatus{ID: j.ID, State: StateRunning, Attempts: j.Attempt, Enqueued: j.EnqueuedAt, Due: j.Due, Progress: &p})
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

func (x *executor) snapshot() any {
	return WorkerStatus{
		QueueFigure:     x.q.figure(),
		Concurrency:     x.concurrency,
		WorkerInFlight:  x.running.Load(),
		WorkerProcessed: x.processed.Load(),
		WorkerFailed:    x.failed.Load(),
		WorkerDead:      x.dead.Load(),
		WorkerCancelled: x.cancelled.Load(),
		Running:         x.runningJobs(),
	}
}

// runningJobs lists the jobs in flight for the status section.
func (x *executor) runningJobs() []RunningJob {
	type running struct {
		j *Job
		r RunningJob
	}
	x.mu.Lock()
	list := make([]running, 0, len(x.flying))
	for j, f := range x.flying {
		if !f.given {
			list = append(list, running{j, RunningJob{ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Started: f.started.UTC()}})
		}
	}
	x.mu.Unlock()
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
