package roletest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/role"
)

// Result is what an instance did, as Instance.Stop and Run report it.
type Result struct {
	// OnStart is what OnStart returned: nil, its error, or a *PanicError.
	OnStart error
	// Ran reports whether Run was called: only after OnStart returned nil,
	// and only if the stop had not begun by then.
	Ran bool
	// Run is what Run returned: nil (also when it was not called), its
	// error, or a *PanicError.
	Run error
	// Cause is why the instance stopped: the cause its context was
	// cancelled with. It wraps ErrStopped (Instance.Stop, Run's context,
	// RequestStop) or ErrRecycled (RequestRecycle, a vetoed change, Run
	// returning by itself, a failed OnStart) and says what happened, as
	// the host's causes do.
	Cause error
	// OnStop is what OnStop returned: nil, its error, or a *PanicError.
	// OnStop runs after every OnStart that was called, even a failed one.
	OnStop error
	// Stuck names what was still running when the stop deadline
	// (Options.StopTimeout) passed: "OnStart", "Run", "OnStop" or
	// "settings change handlers"; "" when the instance ended in time.
	// The host would then force the exit (code 5) without waiting, so
	// what comes after it (OnStop, for a stuck Run) never ran, and the
	// test has failed.
	Stuck string
}

// Instance is one role instance run in-process as the host runs it: OnStart,
// then Run if OnStart returned nil, then OnStop, each once, on one goroutine
// of its own, with panics recovered into a *PanicError. Start makes one;
// Stop ends it. Its methods are safe for concurrent use.
//
// The hooks get a context that carries what the host's carry (the queue
// provider of Options.Queues, the instance logger) and is cancelled, with a
// cause, when the stop begins: Stop, the role's RequestRecycle or
// RequestStop, or a vetoed Change. OnStop's context is not cancelled then
// but carries the stop deadline. When Run returns by itself the instance
// stops too (the host would recycle it).
//
// Unlike the host, an Instance runs no startup tasks, serves no health
// probes, never freezes, and never starts the next instance: what would
// happen next is in Result.Cause.
type Instance struct {
	env     *Env
	role    role.Role
	ctx     context.Context // the hooks'; cancelled when the stop begins
	cancel  context.CancelCauseFunc
	started chan struct{} // closed when OnStart returned
	done    chan struct{} // closed when the instance ended

	mu       sync.Mutex
	phase    phase
	hook     string    // the hook (or phase) the instance is in
	stopAt   time.Time // the stop deadline; zero until the stop begins
	res      Result
	reported bool // a passed deadline was reported to the test
}

type phase int

const (
	phaseOnStart phase = iota
	phaseRunning
	phaseStopping
	phaseEnded
)

const phaseHandlers = "settings change handlers"

// Start starts an instance of r on env and returns at once; OnStart runs on
// the instance's own goroutine. The test's cleanup stops the instance if the
// test did not. It fails the test if env already had an instance: an Env,
// like the host's, is for one instance.
func Start(env *Env, r role.Role) *Instance {
	t := env.t
	t.Helper()
	if r == nil {
		t.Fatalf("roletest: Start: nil role")
	}
	i := &Instance{env: env, role: r, started: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithCancelCause(context.Background())
	i.ctx, i.cancel = env.withValues(ctx), cancel
	env.mu.Lock()
	if env.inst != nil {
		env.mu.Unlock()
		t.Fatalf("roletest: Start: the Env already ran an instance; make a new Env for each, as the host does")
	}
	env.inst = i
	env.mu.Unlock()
	go i.main()
	t.Cleanup(func() { i.Stop(errors.New("the test ended")) })
	return i
}

// Run runs an instance of r on env until it ends by itself (Run returned,
// or the role called RequestRecycle or RequestStop) or ctx ends, which
// stops it with ctx's cause as the host does when the context given to its
// Run ends, and returns what it did. The stop deadline bounds the stop;
// nothing bounds the wait before it, so give ctx a deadline for a role that
// may not end by itself.
func Run(ctx context.Context, env *Env, r role.Role) Result {
	env.t.Helper()
	i := Start(env, r)
	select {
	case <-i.done:
	case <-ctx.Done():
	}
	return i.Stop(context.Cause(ctx))
}

// WaitStarted waits until OnStart has returned and returns its error (a
// *PanicError if it panicked); nil means Run is called next, unless the
// stop began meanwhile. It returns ctx's cause if ctx ends first.
func (i *Instance) WaitStarted(ctx context.Context) error {
	select {
	case <-i.started:
		i.mu.Lock()
		defer i.mu.Unlock()
		return i.res.OnStart
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Done is closed when the instance has ended: OnStop returned and the
// settings change handlers still running have returned.
func (i *Instance) Done() <-chan struct{} { return i.done }

// Stop begins the instance's stop, unless it has begun, and waits until
// the instance ends or the stop deadline passes, and returns what it did.
// Run's context is cancelled with cause, wrapped so that it also wraps
// ErrStopped (nil: ErrStopped), as the host's stop wraps its cause with
// lifecycle.ErrStopping. After an earlier stop (or an end by itself) the
// first cause stays. If the deadline passes, Stop fails the test (once),
// logs every goroutine's stack, and returns with Result.Stuck set; the
// stuck hook's goroutine is left running. Safe to call more than once.
func (i *Instance) Stop(cause error) Result {
	switch {
	case cause == nil:
		cause = ErrStopped
	case !errors.Is(cause, ErrStopped):
		cause = fmt.Errorf("%w: %w", ErrStopped, cause)
	}
	i.beginStop(cause)
	return i.wait()
}

// beginStop cancels the hooks' context with cause and starts the stop
// deadline, unless the stop has begun.
func (i *Instance) beginStop(cause error) {
	i.mu.Lock()
	if !i.stopAt.IsZero() {
		i.mu.Unlock()
		return
	}
	i.stopAt = time.Now().Add(i.env.stopTimeout)
	i.res.Cause = cause
	if i.phase < phaseStopping {
		i.phase = phaseStopping
	}
	i.mu.Unlock()
	i.env.logger.Info("instance stopping", "cause", cause.Error())
	i.cancel(cause)
}

// wait waits for the end of a stop that has begun, within its deadline.
func (i *Instance) wait() Result {
	i.mu.Lock()
	at := i.stopAt
	i.mu.Unlock()
	timer := time.NewTimer(time.Until(at))
	defer timer.Stop()
	select {
	case <-i.done:
		return i.result()
	case <-timer.C:
	}
	select {
	case <-i.done: // ended as the deadline passed
		return i.result()
	default:
	}
	i.mu.Lock()
	res := i.res
	res.Stuck = i.hook
	first := !i.reported
	i.reported = true
	i.mu.Unlock()
	if first {
		msg := fmt.Sprintf("stop deadline of %s exceeded; stuck in %s", i.env.stopTimeout, res.Stuck)
		i.env.logger.Error(msg, "stacks", string(allStacks()))
		i.env.t.Errorf("roletest: %s (the host would force the exit, code 5); the goroutines' stacks are in the log", msg)
	}
	return res
}

func (i *Instance) result() Result {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.res
}

// running reports whether Change should call the handlers: OnStart
// returned nil and the stop has not begun.
func (i *Instance) running() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.phase == phaseRunning
}

func (i *Instance) ended() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.phase == phaseEnded
}

// tie returns ctx, also cancelled (with the instance's cause) when the
// stop begins, and the function that releases it.
func (i *Instance) tie(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(i.ctx, func() { cancel(context.Cause(i.ctx)) })
	return ctx, func() { stop(); cancel(nil) }
}

// main is the instance's goroutine: the host's order of hooks.
func (i *Instance) main() {
	defer close(i.done)
	err := i.call("OnStart", i.ctx, i.role.OnStart)
	i.mu.Lock()
	i.res.OnStart = err
	run := err == nil && i.phase == phaseOnStart // the stop has not begun
	if run {
		i.phase, i.res.Ran = phaseRunning, true
	}
	i.mu.Unlock()
	close(i.started)
	if err != nil {
		i.beginStop(fmt.Errorf("%w: %s", ErrRecycled, hookFailure("OnStart", err)))
	}
	if run && i.env.jobs != nil {
		// As the host: the jobs start with the ready instance.
		if err := i.env.jobs.Start(context.WithoutCancel(i.ctx)); err != nil {
			i.env.logger.Error("jobs: the runner did not start", "error", err.Error())
		}
	}
	if run {
		err = i.call("Run", i.ctx, i.role.Run)
		i.mu.Lock()
		i.res.Run = err
		i.mu.Unlock()
		reason := "Run returned nil"
		if err != nil {
			reason = hookFailure("Run", err)
		}
		i.beginStop(fmt.Errorf("%w: %s", ErrRecycled, reason))
	}

	i.mu.Lock()
	at := i.stopAt
	i.mu.Unlock()
	stopCtx, cancel := context.WithDeadline(context.WithoutCancel(i.ctx), at)
	if i.env.jobs != nil {
		// Before OnStop, within the stop deadline, as the host.
		if err := i.env.jobs.Stop(stopCtx); err != nil {
			i.env.logger.Error("jobs: runs still running at the stop deadline", "error", err.Error())
		}
	}
	err = i.call("OnStop", stopCtx, i.role.OnStop)
	cancel()
	if err != nil {
		i.env.logger.Error("OnStop failed", "error", err.Error())
	}
	i.mu.Lock()
	i.res.OnStop = err
	i.hook = phaseHandlers
	i.mu.Unlock()
	i.env.handlers.Wait()
	i.mu.Lock()
	i.phase, i.hook = phaseEnded, ""
	i.mu.Unlock()
}

// call runs a hook, turning a panic into a *PanicError as the host does.
func (i *Instance) call(hook string, ctx context.Context, fn func(context.Context, role.Env) error) (err error) {
	i.mu.Lock()
	i.hook = hook
	i.mu.Unlock()
	defer func() {
		if v := recover(); v != nil {
			stack := debug.Stack()
			err = &PanicError{Hook: hook, Value: v, Stack: stack}
			i.env.logger.Error("hook panicked", "hook", hook, "panic", fmt.Sprint(v), "stack", string(stack))
		}
	}()
	return fn(ctx, i.env)
}

// hookFailure words a hook's error as the host's recycle reasons do.
func hookFailure(hook string, err error) string {
	var p *PanicError
	if errors.As(err, &p) {
		return p.Error()
	}
	return hook + " failed: " + err.Error()
}

// allStacks returns every goroutine's stack.
func allStacks() []byte {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}
