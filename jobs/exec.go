package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/internal/lease"
	"github.com/cloudrole/cloudrole/tasks"
)

// execution is one run under way on this instance: it owns the run's
// record from its claim to its end, its output, its heartbeat and, for a
// singleton triggered job, its lease.
type execution struct {
	r      *Runner
	conn   *connection
	job    Job
	id     string
	ctx    context.Context // cancelled, with the reason, when the run must stop
	cancel context.CancelCauseFunc
	out    *output
	log    *slog.Logger
	lease  lease.Lease // a singleton triggered run's; nil otherwise

	mu  sync.Mutex
	rec record // as last written
}

// errTaken is the cancel cause of a run whose record another party ended
// meanwhile (the sweeper took it for lost, or it was stopped before this
// instance claimed it): it must stop, and its outcome is not recorded.
var errTaken = errors.New("jobs: the run's record was ended elsewhere")

// errAbandoned is the error of a Go job that did not return within its
// stopping wait after its context was cancelled.
var errAbandoned = errors.New("did not return within its stopping wait after its context was cancelled; abandoned")

// stop asks the run to stop, with cause.
func (x *execution) stop(cause error) { x.cancel(cause) }

// grace is how long the run may take to end once asked to stop: its job's
// StoppingWait, but at most half of what is left until the runner's stop
// deadline, so it is killed and recorded before the host's deadline.
func (x *execution) grace() time.Duration {
	g := x.job.StoppingWait
	if dl := x.r.stopDeadline(); !dl.IsZero() {
		g = min(g, time.Until(dl)/2)
	}
	return max(g, 0)
}

// execute runs a claimed run (rec is Running, written by this runner) to
// its end and records the outcome. It returns the run's error (nil when it
// Completed or was Stopped), for a continuous job's restart policy.
func (r *Runner) execute(parent context.Context, conn *connection, job Job, rec record, l lease.Lease) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	log := r.log.With("job", job.Name, "run", rec.ID)
	x := &execution{r: r, conn: conn, job: job, id: rec.ID, ctx: ctx, cancel: cancel, log: log, lease: l, rec: rec}
	x.out = newOutput(conn.js, conn.st.out, rec.ID, r.o.HistoryBytes, log)
	r.mu.Lock()
	r.runs[rec.ID] = x
	r.counts.started++
	stats := r.statsLocked(job.Name)
	stats.started++
	stats.running++
	r.mu.Unlock()

	log.Info("jobs: run started", "trigger", string(rec.Trigger.Type), "args", len(rec.Trigger.Args))
	beatStop, beatDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(beatDone)
		x.heartbeats(beatStop)
	}()
	var (
		code *int
		err  error
	)
	switch {
	case ctx.Err() != nil:
		// Claimed as the instance began to stop: nothing to start; the
		// run ends Stopped with the reason.
	case job.Func != nil:
		err = x.runFunc(ctx)
	default:
		code, err = x.runProgram(ctx)
	}
	close(beatStop)
	<-beatDone

	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), r.writeTimeout())
	defer wcancel()
	if ferr := x.out.flush(wctx); ferr != nil {
		log.Warn("jobs: not every output line was stored", "error", ferr.Error())
	}
	x.out.trim()
	state, msg := x.outcome(code, err)
	lines, bytes, _ := x.out.counts()
	r.prune(wctx, conn, job.Name, &Run{ID: rec.ID, CreatedAt: rec.CreatedAt, OutputBytes: bytes, Lines: lines})
	final := x.finish(wctx, state, msg, code)
	if l != nil {
		_ = l.Release(wctx)
	}
	r.mu.Lock()
	delete(r.runs, rec.ID)
	stats = r.statsLocked(job.Name)
	stats.running--
	stats.ended(final)
	r.mu.Unlock()
	log.Info("jobs: run ended", "state", string(final.State), "error", final.Error)
	if final.State == Failed {
		return errors.New(final.Error)
	}
	return nil
}

// writeTimeout bounds the writes after a run ended (flush, final record,
// pruning): up to the stop deadline, at most 10 s.
func (r *Runner) writeTimeout() time.Duration {
	d := 10 * time.Second
	if dl := r.stopDeadline(); !dl.IsZero() {
		d = min(d, max(time.Until(dl), 100*time.Millisecond))
	}
	return d
}

// outcome turns how the run ended into its final state and error text.
func (x *execution) outcome(code *int, err error) (State, string) {
	if x.ctx.Err() != nil {
		cause := context.Cause(x.ctx)
		if errors.Is(cause, lease.ErrLeaseLost) {
			return Failed, "lost the singleton lease (another instance may run the job now): " + cause.Error()
		}
		msg := stopReason(cause)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, cause) {
			msg += "; " + err.Error()
		}
		return Stopped, msg
	}
	if err != nil {
		return Failed, err.Error()
	}
	if code != nil && *code != 0 {
		return Failed, fmt.Sprintf("exit code %d", *code)
	}
	return Completed, ""
}

func stopReason(cause error) string {
	switch {
	case errors.Is(cause, ErrStopRequested):
		return "stopped on request"
	case errors.Is(cause, ErrRunnerStopped), errors.Is(cause, tasks.ErrGroupStopped):
		return "stopped: the instance is stopping"
	case errors.Is(cause, ErrJobChanged):
		return "stopped: the job's definition changed or was removed"
	}
	return "stopped: " + cause.Error()
}

// finish records the run's end, unless the record was ended elsewhere
// meanwhile (then it keeps what was recorded there). It returns the record
// as it stands.
func (x *execution) finish(ctx context.Context, state State, msg string, code *int) Run {
	lines, bytes, dropped := x.out.counts()
	now := time.Now().UTC()
	x.mu.Lock()
	cur := x.rec
	x.mu.Unlock()
	for range 100 {
		if cur.Session != x.r.session || cur.State.Terminal() {
			x.log.Warn("jobs: the run was recorded ended elsewhere; its outcome here is not recorded",
				"recorded", string(cur.State), "here", string(state))
			return cur.Run
		}
		next := cur.Run
		next.State, next.Error, next.ExitCode, next.EndedAt = state, msg, code, now
		next.Lines, next.OutputBytes, next.Dropped = lines, bytes, dropped
		w, err := x.conn.st.update(ctx, next, cur.rev)
		if err == nil {
			return w.Run
		}
		if !errors.Is(err, errConflict) {
			x.log.Error("jobs: could not record the run's end", "error", err.Error(), "state", string(state))
			next.UpdatedAt = now
			return next
		}
		if cur, err = x.conn.st.get(ctx, x.id); err != nil {
			x.log.Error("jobs: could not record the run's end", "error", err.Error(), "state", string(state))
			return next
		}
	}
	return cur.Run
}

// heartbeats rewrites the record every heartbeat until stop is closed,
// with the output counts; it also notices a stop request or a record
// ended elsewhere, and renews the singleton lease.
func (x *execution) heartbeats(stop <-chan struct{}) {
	t := time.NewTicker(x.r.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			x.beat()
		}
	}
}

func (x *execution) beat() {
	ctx, cancel := context.WithTimeout(context.Background(), x.r.o.Heartbeat)
	defer cancel()
	if x.lease != nil {
		if err := x.lease.Renew(ctx); errors.Is(err, lease.ErrLeaseLost) {
			x.cancel(err)
		}
	}
	lines, bytes, dropped := x.out.counts()
	x.mu.Lock()
	cur := x.rec
	x.mu.Unlock()
	for range 10 {
		next := cur.Run
		next.Lines, next.OutputBytes, next.Dropped = lines, bytes, dropped
		w, err := x.conn.st.update(ctx, next, cur.rev)
		if err == nil {
			x.mu.Lock()
			x.rec = w
			x.mu.Unlock()
			return
		}
		if !errors.Is(err, errConflict) {
			x.log.Warn("jobs: heartbeat not written", "error", err.Error())
			return
		}
		if cur, err = x.conn.st.get(ctx, x.id); err != nil {
			return
		}
		x.mu.Lock()
		x.rec = cur
		x.mu.Unlock()
		switch {
		case cur.Session != x.r.session || cur.State.Terminal():
			x.cancel(errTaken)
			return
		case cur.StopRequested:
			x.cancel(ErrStopRequested)
		}
	}
}
