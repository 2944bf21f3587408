package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/jonboulle/clockwork"
)

// Group supervises named tasks bound to one context, usually the one a
// role's Run receives. Each task runs in one goroutine of its own; a task
// that panics or fails restarts alone, after a backoff delay, in that same
// goroutine. A fatal error cancels every task and ends the group.
//
// Make one with NewGroup. All methods are safe for concurrent use.
type Group struct {
	s      settings
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the group has ended

	mu    sync.Mutex
	tasks []*task
	names map[string]*task
	// live counts what the group waits for before it ends: task goroutines
	// (minus abandoned ones) and timer callbacks in progress.
	live      int
	cancelled bool // onCancel has run: no task can join any more
	finished  bool // done is closed
	fatal     *FatalError
	stuck     []string // tasks abandoned while the group was ending
	grace     clockwork.Timer
	unlist    func() // removes the status section, if registered
}

// NewGroup returns a running group bound to ctx: when ctx ends, every task's
// context is cancelled and the group ends once they have returned. If ctx
// carries a host (internal/hostctx), the group registers its Status in the
// host's status registry under "tasks" (the registry appends "#2", ... for
// further groups) and removes it when the group ends. It never blocks and
// never fails: every Options value has a meaning.
func NewGroup(ctx context.Context, opts Options) *Group {
	s := opts.settings(hostctx.Logger(ctx, opts.Logger))
	g := &Group{
		s:     s,
		log:   s.logger.With("group", s.name),
		done:  make(chan struct{}),
		names: make(map[string]*task),
	}
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	if h := hostctx.From(ctx); h != nil && h.Status != nil {
		_, g.unlist = h.Status.Add("tasks", func() any { return g.Status() })
	}
	// The callback's goroutine exists only once ctx is done.
	context.AfterFunc(g.ctx, g.onCancel)
	return g
}

// Go adds a long-running task: fn runs in its own goroutine with a context
// that is cancelled when the group ends, when the run stalls (StallAfter) or
// when a Singleton loses its lock, with a cause saying which; it is not
// cancelled merely because fn returned. fn should return when its context
// is done. When fn
// returns or panics, the task restarts per its Restart policy (Always by
// default) after a backoff delay; an error marked with Fatal ends the group.
//
// Go returns an error wrapping ErrInvalid for an empty or duplicate name, a
// nil fn or a bad option, and one wrapping ErrGroupEnded once the group's
// context has ended. It never blocks. A task that could not be added also
// ends the group: Wait returns a *FatalError naming it, so an unchecked
// error never leaves a task silently missing (check input such as a CRON
// spec from a config file first, with ParseCron).
func (g *Group) Go(name string, fn func(context.Context) error, opts ...Option) error {
	return g.add(kindGo, name, fn, 0, "", opts)
}

// Periodic adds a task that runs fn at once, then again interval after each
// run has returned, so runs never overlap and a slow run delays the next
// one (like an eternal orchestration). A failed or panicking run is logged,
// counts toward the restart intensity, and the schedule goes on; an error
// marked with Fatal ends the group. Errors are as for Go; interval must be
// positive.
func (g *Group) Periodic(name string, interval time.Duration, fn func(context.Context) error, opts ...Option) error {
	return g.add(kindPeriodic, name, fn, interval, "", opts)
}

// Cron adds a task that runs fn at the times a 6-field NCRONTAB spec names,
// as in WebJobs and Azure Functions: "second minute hour day month
// day-of-week", e.g. "0 */5 * * * *" for every five minutes. Fields accept
// *, numbers, ranges (1-5), lists (1,3), steps (*/15) and English month and
// day names; the day-of-month and day-of-week fields must both match, as in
// NCRONTAB. The spec is read in UTC unless the Location option says
// otherwise. Runs never overlap; fire times missed meanwhile are handled
// per the Misfire option (RunOnce by default); RunOnStart adds a run at
// start. Failures are handled as for Periodic.
//
// A spec with another number of fields (a 5-field crontab line included),
// a descriptor such as "@hourly", a "TZ=" prefix, or a field out of range is
// rejected with an error wrapping ErrInvalid that shows the expected form.
// Other errors are as for Go.
func (g *Group) Cron(name, spec string, fn func(context.Context) error, opts ...Option) error {
	return g.add(kindCron, name, fn, 0, spec, opts)
}

func (g *Group) add(k kind, name string, fn func(context.Context) error, interval time.Duration, spec string, opts []Option) error {
	t, err := g.newTask(k, name, fn, interval, spec, opts)
	if err != nil {
		return g.notAdded(name, err)
	}
	g.mu.Lock()
	if g.cancelled || g.ctx.Err() != nil {
		g.mu.Unlock()
		return fmt.Errorf("%w: cannot add %s %q", ErrGroupEnded, k.method(), name)
	}
	if _, dup := g.names[name]; dup {
		g.mu.Unlock()
		return g.notAdded(name, invalidf(k, name, "a task with this name already exists in group %q", g.s.name))
	}
	g.names[name] = t
	g.tasks = append(g.tasks, t)
	g.live++
	g.mu.Unlock()
	go t.main()
	return nil
}

// notAdded ends the group with err, the reason a task was not added, and
// returns err: code that ignores the error of Go, Periodic or Cron must
// not leave a task silently missing, so Wait reports it too.
func (g *Group) notAdded(name string, err error) error {
	g.fail(&FatalError{Task: name, Err: fmt.Errorf("not added: %w", err)})
	return err
}

// Wait blocks until the group has ended: its context is done and every task
// has returned (or was abandoned after ignoring cancellation for the Grace
// period). It returns nil when the group ended because its context ended or
// Stop was called; the *FatalError (find it with errors.As) when a task ended
// it; or, if tasks had to be abandoned while ending, an error wrapping
// ErrAbandoned that names them. Wait may be called any number of times from
// any goroutines; every call returns the same result.
func (g *Group) Wait() error {
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resultLocked()
}

// Stop cancels every task (their context's cause is ErrGroupStopped) and
// waits until the group has ended or ctx is done. It returns nil once the
// group has ended, whatever Wait returns; if ctx ends first, an error
// wrapping ctx's cause that names the tasks still running. Stop is
// idempotent and safe to call concurrently, also after the group ended.
func (g *Group) Stop(ctx context.Context) error {
	g.cancel(ErrGroupStopped)
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
	}
	select {
	case <-g.done:
		return nil
	default:
	}
	var running []string
	for _, ts := range g.Status().Tasks {
		if ts.State != StateStopped {
			running = append(running, fmt.Sprintf("%q (%s)", ts.Name, ts.State))
		}
	}
	return fmt.Errorf("tasks: stopping group %q: %w; still running: %s",
		g.s.name, context.Cause(ctx), strings.Join(running, ", "))
}

// resultLocked is what Wait returns; g.mu must be held.
func (g *Group) resultLocked() error {
	if g.fatal != nil {
		return g.fatal
	}
	if len(g.stuck) > 0 {
		return fmt.Errorf("%w: still running %v after the group ended: %s",
			ErrAbandoned, g.s.grace, strings.Join(g.stuck, ", "))
	}
	return nil
}

// fail ends the group with fe, unless another fatal error came first.
func (g *Group) fail(fe *FatalError) {
	g.mu.Lock()
	first := g.fatal == nil && !g.finished
	if first {
		g.fatal = fe
	}
	g.mu.Unlock()
	if !first {
		return
	}
	g.log.Error("task failed fatally; stopping the group", "task", fe.Task, "err", fe.Err)
	g.emit(EventFatal{Group: g.s.name, Task: fe.Task, Err: fe})
	g.cancel(fe)
}

// onCancel runs once, in its own goroutine, when the group's context ends.
func (g *Group) onCancel() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancelled = true
	if g.live > 0 {
		g.grace = g.s.clock.AfterFunc(g.s.grace, g.onGrace)
	}
	g.finishLocked()
}

// onGrace abandons the tasks still running Grace after the group's context
// ended, so Wait can return and report them.
func (g *Group) onGrace() {
	if !g.enter() {
		return
	}
	defer g.leave()
	g.mu.Lock()
	var stuck []*task
	for _, t := range g.tasks {
		if !t.exited && !t.abandoned {
			t.abandoned = true
			g.live--
			stuck = append(stuck, t)
			g.stuck = append(g.stuck, fmt.Sprintf("%q", t.name))
		}
	}
	g.mu.Unlock()
	for _, t := range stuck {
		g.log.Error("task ignored cancellation; abandoned", "task", t.name, "grace", g.s.grace)
	}
}

// enter registers a timer callback the group must wait for; it returns
// false, and the callback must do nothing, once the group has ended.
func (g *Group) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.finished {
		return false
	}
	g.live++
	return true
}

// leave ends what enter began.
func (g *Group) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.live--
	g.finishLocked()
}

// exited records that t's goroutine is returning.
func (g *Group) exited(t *task) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t.exited = true
	if !t.abandoned {
		g.live--
	}
	g.finishLocked()
}

// abandon stops waiting for t; it returns false if t already returned or
// was abandoned.
func (g *Group) abandon(t *task) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.exited || t.abandoned {
		return false
	}
	t.abandoned = true
	g.live--
	return true
}

// finishLocked ends the group if nothing is left to wait for; g.mu must be
// held.
func (g *Group) finishLocked() {
	if g.finished || !g.cancelled || g.live > 0 {
		return
	}
	g.finished = true
	if g.grace != nil {
		g.grace.Stop()
	}
	if g.unlist != nil {
		g.unlist()
	}
	if err := g.resultLocked(); err != nil {
		g.log.Info("group ended", "err", err)
	} else {
		g.log.Info("group ended", "cause", context.Cause(g.ctx))
	}
	close(g.done)
}

func (g *Group) emit(e Event) {
	if g.s.onEvent != nil {
		g.s.onEvent(e)
	}
}
