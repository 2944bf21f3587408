package tasks

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sethvargo/go-retry"
)

// failures is what a task remembers about failures and restarts.
type failures struct {
	// Guarded by the task's mu.
	lastErr   string
	lastErrAt time.Time
	lastPanic *panicError
	panics    int

	// Owned by the task's goroutine.
	backoff  retry.Backoff // nil until the first restart after a reset
	restarts []time.Time   // recent restart times, for the intensity
}

// task is one supervised task. Its goroutine (main) runs the function,
// decides, waits and runs it again: a task costs that one goroutine and this
// struct; stall checks and lease renewals are clock timers, which cost no
// goroutine until they fire.
type task struct {
	g    *Group
	name string
	kind kind
	fn   func(context.Context) error

	policy      Policy
	backoffBase time.Duration
	backoffMax  time.Duration
	maxRestarts int // <0: never escalate
	window      time.Duration
	stallAfter  time.Duration // 0: no stall detection
	interval    time.Duration // periodic tasks
	cron        *cronSchedule // CRON tasks
	single      *singleton

	lastBeat atomic.Int64 // unix nanoseconds of the last Beat, 0 if none

	mu           sync.Mutex // guards the fields below, and fails' and single's as they say
	state        State
	running      bool
	stalled      bool // the current run was cancelled for a stall
	runSeq       uint64
	restartCount int
	runs         int64
	misfires     int
	nextRun      time.Time
	runStart     time.Time
	cancelRun    context.CancelCauseFunc // set while running, if stall detection is on
	stallTimer   clockwork.Timer
	graceTimer   clockwork.Timer
	fails        *failures // nil until the first failure or restart: idle tasks stay small

	// Guarded by g.mu.
	exited, abandoned bool
}

func (g *Group) newTask(k kind, name string, fn func(context.Context) error, interval time.Duration, spec string, opts []Option) (*task, error) {
	if name == "" {
		return nil, invalidf(k, name, "empty name")
	}
	if fn == nil {
		return nil, invalidf(k, name, "nil function")
	}
	c := taskConfig{kind: k}
	for _, o := range opts {
		if o == nil {
			return nil, invalidf(k, name, "nil option")
		}
		if err := o.apply(&c); err != nil {
			return nil, invalidf(k, name, "%v", err)
		}
	}
	s := &g.s
	t := &task{
		g:           g,
		name:        name,
		kind:        k,
		fn:          fn,
		policy:      c.policy,
		backoffBase: s.backoffBase,
		backoffMax:  s.backoffMax,
		maxRestarts: s.maxRestarts,
		window:      s.restartWindow,
		stallAfter:  c.stallAfter,
		single:      c.single,
		state:       StateRunning,
	}
	if c.backoffSet {
		t.backoffBase, t.backoffMax = c.backoffBase, c.backoffMax
	}
	if c.intensitySet {
		t.maxRestarts, t.window = c.maxRestarts, c.window
	}
	switch k {
	case kindPeriodic:
		if interval <= 0 {
			return nil, invalidf(k, name, "interval %v: want a positive interval", interval)
		}
		t.interval = interval
	case kindCron:
		cs, err := parseCron(spec, c.loc, s.clock.Now())
		if err != nil {
			return nil, invalidf(k, name, "%v", err)
		}
		cs.misfire, cs.runOnStart = c.misfire, c.runOnStart
		t.cron = cs
	}
	if t.single != nil {
		if t.single.lockName == "" {
			t.single.lockName = g.s.name + "/" + name
		}
		t.state = StateInactive
	}
	return t, nil
}

// main is the task's goroutine.
func (t *task) main() {
	defer t.exit()
	switch t.kind {
	case kindGo:
		t.loopGo()
	case kindPeriodic:
		t.loopPeriodic()
	case kindCron:
		t.loopCron()
	}
}

// exit gives the lock back, marks the task stopped and tells the group.
func (t *task) exit() {
	t.dropLease()
	t.setState(StateStopped, time.Time{})
	if t.g.ctx.Err() != nil {
		t.g.emit(EventStopped{Group: t.g.s.name, Task: t.name, Err: context.Cause(t.g.ctx)})
	}
	t.g.exited(t)
}

// loopGo runs a long-running task: run, decide, back off, run again. Its
// frame is kept small (decisions and logging live in afterRun) because it is
// on the stack of every idle task: a parked task whose stack use is under a
// quarter of its stack gets it halved by the GC, back to the 2 KB minimum.
func (t *task) loopGo() {
	for {
		ctx, ok := t.hold()
		if !ok {
			return
		}
		ran, err := t.run(ctx)
		d, again := t.afterRun(ctx, ran, err)
		if !again {
			return
		}
		if !t.sleep(ctx, d) && t.g.ctx.Err() != nil {
			return
		}
	}
}

// afterRun decides what a Go task does after a run under ctx that lasted
// ran and returned err: restart after the returned delay, or stop (false).
// A lost lease restarts at once (hold then goes inactive).
func (t *task) afterRun(ctx context.Context, ran time.Duration, err error) (time.Duration, bool) {
	g := t.g
	if g.ctx.Err() != nil || t.escalated(err) {
		return 0, false
	}
	if ctx.Err() != nil {
		return 0, true // the lease was lost
	}
	if t.policy == Never || (err == nil && t.policy == OnFailure) {
		g.log.Info("task stopped by its restart policy", "task", t.name, "policy", t.policy, "err", err)
		g.emit(EventStopped{Group: g.s.name, Task: t.name, Err: err})
		return 0, false
	}
	if t.countRestart(err) {
		return 0, false
	}
	d := t.nextDelay(ran)
	now := g.s.clock.Now()
	t.mu.Lock()
	t.restartCount++
	n := t.restartCount
	t.state, t.nextRun = StateBackoff, now.Add(d)
	t.mu.Unlock()
	if err == nil {
		g.log.Info("task returned; restarting", "task", t.name, "delay", d, "restarts", n)
	} else {
		g.log.Debug("task restarting", "task", t.name, "delay", d, "restarts", n)
	}
	g.emit(EventBackoff{Group: g.s.name, Task: t.name, Restarts: n, Delay: d})
	return d, true
}

// run calls fn once under a context derived from parent, recovering a
// panic, and records the outcome. It returns how long it ran and its error
// (a stall or a panic included).
func (t *task) run(parent context.Context) (time.Duration, error) {
	ctx, cancel := parent, context.CancelCauseFunc(nil)
	if t.stallAfter > 0 {
		// Only a stall cancels one run alone: other runs use parent (the
		// group's or the lease's context) as is, which saves an idle task
		// a context, a channel and a closure.
		ctx, cancel = context.WithCancelCause(parent)
	}
	ctx = context.WithValue(ctx, beatKey{}, t)
	start := t.beginRun(cancel)
	err := t.call(ctx)
	if cancel != nil {
		cancel(nil)
	}
	if t.endRun() && (err == nil || errors.Is(err, context.Canceled)) {
		// A stalled run failed, whatever it returned: report the stall.
		err = context.Cause(ctx)
	}
	ran := t.g.s.clock.Since(start)
	// A run that returns because the group ended or its lease was lost did
	// not fail.
	if err != nil && !(parent.Err() != nil && errors.Is(err, context.Canceled)) {
		t.failed(err)
	}
	return ran, err
}

// call runs fn, turning a panic into a *panicError that keeps the stack.
func (t *task) call(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: stack()}
		}
	}()
	return t.fn(ctx)
}

// stack returns the calling goroutine's stack trace, like debug.Stack, but
// starts with a buffer that fits a typical panic's stack: each retry with a
// bigger buffer walks the stack again.
func stack() []byte {
	buf := make([]byte, 4096)
	for {
		n := runtime.Stack(buf, false)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// beginRun marks the task running and arms its stall timer.
func (t *task) beginRun(cancel context.CancelCauseFunc) time.Time {
	now := t.g.s.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state, t.nextRun = StateRunning, time.Time{}
	t.running, t.stalled = true, false
	t.runSeq++
	t.runs++
	t.runStart = now
	t.cancelRun = cancel
	if t.stallAfter > 0 {
		if t.stallTimer == nil {
			t.stallTimer = t.g.s.clock.AfterFunc(t.stallAfter, t.onStallTimer)
		} else {
			t.stallTimer.Reset(t.stallAfter)
		}
	}
	return now
}

// endRun marks the run over and disarms its timers; it reports whether the
// run was cancelled for a stall.
func (t *task) endRun() (stalled bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running, t.cancelRun = false, nil
	if t.stallTimer != nil {
		t.stallTimer.Stop()
	}
	if t.graceTimer != nil {
		t.graceTimer.Stop()
		t.graceTimer = nil
	}
	return t.stalled
}

// failed records and reports a failed run.
func (t *task) failed(err error) {
	g := t.g
	now := g.s.clock.Now()
	var pe *panicError
	isPanic := errors.As(err, &pe)
	t.mu.Lock()
	f := t.failuresLocked()
	f.lastErr, f.lastErrAt = err.Error(), now
	if isPanic {
		f.lastPanic = pe
		f.panics++
	}
	t.mu.Unlock()
	if isPanic {
		g.log.Error("task panicked", "task", t.name, "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
		g.emit(EventPanic{Group: g.s.name, Task: t.name, Value: pe.value, Stack: string(pe.stack)})
		return
	}
	g.log.Warn("task failed", "task", t.name, "err", err)
	g.emit(EventFailure{Group: g.s.name, Task: t.name, Err: err})
}

// escalated ends the group if err is fatal and reports whether it did.
func (t *task) escalated(err error) bool {
	var fe *FatalError
	if !errors.As(err, &fe) {
		return false
	}
	if err == error(fe) && fe.Task == "" {
		err = fe.Err // the bare marker: report what it marks
	}
	t.g.fail(&FatalError{Task: t.name, Err: err})
	return true
}

// countRestart records a restart (or a failed scheduled run) and ends the
// group if that exceeds the task's intensity; it reports whether it did.
func (t *task) countRestart(last error) bool {
	if t.maxRestarts < 0 {
		return false
	}
	now := t.g.s.clock.Now()
	t.mu.Lock()
	f := t.failuresLocked()
	t.mu.Unlock()
	// Keep only restarts within the window, then add this one.
	cut := 0
	for cut < len(f.restarts) && now.Sub(f.restarts[cut]) >= t.window {
		cut++
	}
	f.restarts = append(f.restarts[:0], f.restarts[cut:]...)
	f.restarts = append(f.restarts, now)
	if len(f.restarts) <= t.maxRestarts {
		return false
	}
	cause := last
	if cause == nil {
		cause = errors.New("returned nil")
	}
	// The failure that escalates is not followed by a restart: name the
	// restarts that happened, which is what status counts.
	t.g.fail(&FatalError{Task: t.name, Err: fmt.Errorf("%w: failed again after %d restarts within %v (limit %d); last: %w",
		ErrIntensity, len(f.restarts)-1, t.window, t.maxRestarts, cause)})
	return true
}

// failuresLocked returns t.fails, allocating it on first use; t.mu must be
// held.
func (t *task) failuresLocked() *failures {
	if t.fails == nil {
		t.fails = &failures{}
	}
	return t.fails
}

// nextDelay returns the delay before the next restart: exponential with
// jitter, capped, and starting over after a run that lasted backoffMax.
func (t *task) nextDelay(ran time.Duration) time.Duration {
	if t.backoffBase <= 0 {
		return 0
	}
	t.mu.Lock()
	f := t.failuresLocked()
	t.mu.Unlock()
	if ran >= t.backoffMax {
		f.backoff = nil
	}
	if f.backoff == nil {
		f.backoff = retry.WithCappedDuration(t.backoffMax,
			retry.WithJitterPercent(backoffJitterPercent, retry.NewExponential(t.backoffBase)))
	}
	d, _ := f.backoff.Next() // never stops: no retry limit is set
	return d
}

// sleep waits d on the group's clock; it returns false if ctx ended first.
func (t *task) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := t.g.s.clock.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *task) setState(s State, next time.Time) {
	t.mu.Lock()
	t.state, t.nextRun = s, next
	t.mu.Unlock()
}
