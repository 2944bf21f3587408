package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/startup"
)

// Hook and phase names, as reported when the host is stuck in one.
const (
	hookOnStart      = "OnStart"
	hookRun          = "Run"
	hookOnStop       = "OnStop"
	phaseStartup     = "startup tasks"
	phaseStartupStop = "stopping startup tasks" // background ones signalled, foreground ones awaited
	phaseHandlerWait = "settings change handlers"
)

// runInstance runs one instance from startup tasks to the end of its stop.
func (h *Host) runInstance(ctx context.Context, inc int) outcome {
	h.mu.Lock()
	i := newInstance(h, ctx, h.cfg, inc)
	h.inst = i
	ev := h.setStateLocked(StateStarting)
	h.mu.Unlock()
	h.emit(ev)

	h.setHook(phaseStartup)
	sr, err := startup.Start(i.ctx, i.cfg.Startup, startup.Options{Logger: i.logger, Env: i.identityEnv()})
	i.startup.Store(sr)
	h.setHook("")
	if err != nil {
		return h.stopInstance(i, false, outcome{failed: true, reason: "startup task failed: " + err.Error()})
	}
	if !h.waitUnfrozen(i.ctx, true) {
		return h.stopInstance(i, false, outcome{})
	}

	if i.jobsErr != nil {
		return h.stopInstance(i, false, outcome{failed: true, reason: "jobs: " + i.jobsErr.Error()})
	}

	h.setState(StateOnStart)
	if err := h.call(i, hookOnStart, i.hookCtx, h.role.OnStart); err != nil {
		return h.stopInstance(i, true, outcome{failed: true, reason: hookFailure(hookOnStart, err)})
	}
	if !h.waitUnfrozen(i.ctx, true) {
		return h.stopInstance(i, true, outcome{})
	}
	// The jobs of the config and the jobs folder, and the Go jobs OnStart
	// added, start with the ready instance.
	h.startJobs(i)

	h.setState(StateReady)
	readyAt := h.opts.Clock.Now()
	h.setState(StateRunning)
	err = h.call(i, hookRun, i.hookCtx, h.role.Run)
	out := outcome{uptime: h.opts.Clock.Since(readyAt), reason: "Run returned nil"}
	if out.uptime < i.cfg.Host.HealthyAfter {
		out.reason = fmt.Sprintf("Run returned nil after %v (Run must block until its context is done; return only to recycle)", out.uptime.Round(time.Millisecond))
	}
	if err != nil {
		out.failed, out.reason = true, hookFailure(hookRun, err)
	}
	return h.stopInstance(i, true, out)
}

// stopInstance stops i: cancels its context, runs OnStop if OnStart was
// called, waits for its handlers and foreground startup tasks, all within
// the stop deadline. When the instance's context was cancelled before it
// ended by itself, the cancel cause is the reason.
func (h *Host) stopInstance(i *instance, onStop bool, out outcome) outcome {
	if cause := i.cause(); cause != nil {
		var rec *RecycleError
		switch {
		case errors.Is(cause, ErrStopping):
			out.hostStop = true
		case errors.As(cause, &rec):
			// A recycle on purpose; the hook's error, if any, is
			// usually just the cancellation.
			out.reason, out.failed, out.deliberate = rec.Reason, false, true
		}
	}
	if out.reason == "" {
		out.reason = "stopped"
	}
	h.beginInstanceStop(i, &RecycleError{Reason: out.reason})
	h.setState(StateStopping)
	stopCtx, cancel := context.WithDeadline(context.WithoutCancel(i.hookCtx), h.deadlineTime())
	defer cancel()
	// Stopped before OnStop, in the reverse order of their start: job
	// runs may use what OnStop tears down.
	h.stopJobs(stopCtx, i)
	if onStop {
		if err := h.call(i, hookOnStop, stopCtx, h.role.OnStop); err != nil {
			i.logger.Error("OnStop failed", "error", err.Error())
		}
	}
	h.setHook(phaseHandlerWait)
	i.handlers.Wait()
	if sr := i.startup.Load(); sr != nil {
		h.setHook(phaseStartupStop)
		if err := sr.Stop(stopCtx); err != nil {
			// A foreground task outlasted the deadline: the same forced
			// exit as when the deadline's own timer wins the race.
			h.deadlinePassed(phaseStartupStop + ": " + err.Error())
		}
	}
	h.setHook("")
	i.finished.Store(true)
	h.disarmDeadline(false)
	return out
}

// beginInstanceStop cancels i's context with cause and starts the stop
// deadline, unless i's stop has already begun.
func (h *Host) beginInstanceStop(i *instance, cause error) {
	if i.ctx.Err() != nil {
		// Already stopping: the host's own stop, or an earlier recycle,
		// armed the deadline.
		return
	}
	h.armDeadline()
	i.cancel(cause)
}

// call runs a role hook, turning a panic into a *PanicError.
func (h *Host) call(i *instance, hook string, ctx context.Context, fn func(context.Context, role.Env) error) (err error) {
	h.setHook(hook)
	defer h.setHook("")
	defer func() {
		if v := recover(); v != nil {
			stack := debug.Stack()
			err = &PanicError{Hook: hook, Value: v, Stack: stack}
			i.logger.Error("hook panicked", "hook", hook, "panic", fmt.Sprint(v), "stack", string(stack))
		}
	}()
	return fn(ctx, i)
}

// hookFailure renders a hook's error as a recycle reason.
func hookFailure(hook string, err error) string {
	var p *PanicError
	if errors.As(err, &p) {
		return p.Error()
	}
	return hook + " failed: " + err.Error()
}

// hostCtx is the context handed to hooks: the instance context carrying the
// host's logger and status registry for the tasks and queue packages, the
// queue provider for queue.Connect, and the instance's job runner for
// jobs.Add.
func (h *Host) hostCtx(i *instance) context.Context {
	ctx := queue.WithProvider(hostctx.With(i.ctx, hostctx.New(i.logger, h.status)), h.queues)
	if i.jobs != nil {
		ctx = jobs.WithRunner(ctx, i.jobs)
	}
	return ctx
}
