package startup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultKillGrace is how long background tasks get between SIGTERM and
// SIGKILL when Options.KillGrace is zero.
const DefaultKillGrace = 5 * time.Second

// Options for one instance's startup tasks.
type Options struct {
	// Logger receives the tasks' output lines and lifecycle messages.
	// nil discards them.
	Logger *slog.Logger
	// Env adds "KEY=VALUE" entries to every task's environment; the host
	// passes the role identity here.
	Env []string
	// KillGrace is the SIGTERM→SIGKILL grace when stopping background
	// tasks, capped at half the time left until the stop's deadline.
	// Defaults to DefaultKillGrace.
	KillGrace time.Duration
}

// TaskError is why a simple task failed the start.
type TaskError struct {
	Task     string
	ExitCode int // -1 if the process did not exit by itself
	Err      error
}

func (e *TaskError) Error() string {
	if e.ExitCode > 0 {
		return fmt.Sprintf("startup task %q exited with code %d", e.Task, e.ExitCode)
	}
	return fmt.Sprintf("startup task %q: %v", e.Task, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

// ErrTimeout is wrapped by the TaskError of a simple task that overran its
// Timeout.
var ErrTimeout = errors.New("timed out")

// Run is the set of startup tasks of one instance.
type Run struct {
	opts  Options
	mu    sync.Mutex
	procs []*proc // in declared order; nil entries never started
	tasks []Task
	stop  sync.Once
	err   error
}

// Start runs the Simple tasks one at a time in declared order and starts
// the Background and Foreground tasks, also in declared order. If a Simple
// task fails or ctx ends, Start kills everything it started (whole process
// groups) and returns the error with the Run, whose Results show what
// happened. The returned Run is never nil.
func Start(ctx context.Context, tasks []Task, opts Options) (*Run, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = DefaultKillGrace
	}
	r := &Run{opts: opts, tasks: tasks, procs: make([]*proc, len(tasks))}
	if err := Validate(tasks); err != nil {
		return r, err
	}
	for n, t := range tasks {
		if err := ctx.Err(); err != nil {
			r.Kill()
			r.waitAll()
			return r, fmt.Errorf("startup tasks interrupted before %q: %w", t.Name, context.Cause(ctx))
		}
		p, err := r.spawn(t)
		r.mu.Lock()
		r.procs[n] = p
		r.mu.Unlock()
		if err != nil {
			opts.Logger.Error("startup task could not start", "task", t.Name, "kind", string(t.Kind), "error", err.Error())
			r.Kill()
			r.waitAll()
			return r, &TaskError{Task: t.Name, ExitCode: -1, Err: err}
		}
		if t.Kind != Simple {
			continue
		}
		if err := r.waitSimple(ctx, p, t); err != nil {
			r.Kill()
			r.waitAll()
			return r, err
		}
	}
	return r, nil
}

// waitSimple waits for a simple task to exit 0 within its timeout and ctx.
func (r *Run) waitSimple(ctx context.Context, p *proc, t Task) error {
	var timeout <-chan time.Time
	if t.Timeout > 0 {
		timer := time.NewTimer(t.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-p.done:
		if code := p.exitCode(); code != 0 {
			return &TaskError{Task: t.Name, ExitCode: code, Err: p.waitErr}
		}
		return nil
	case <-timeout:
		p.markKilled(StateTimeout)
		p.signalGroup(sigKill)
		<-p.done
		return &TaskError{Task: t.Name, ExitCode: -1, Err: fmt.Errorf("%w after %s", ErrTimeout, t.Timeout)}
	case <-ctx.Done():
		p.markKilled(StateKilled)
		p.signalGroup(sigKill)
		<-p.done
		return &TaskError{Task: t.Name, ExitCode: -1, Err: fmt.Errorf("interrupted: %w", context.Cause(ctx))}
	}
}

// spawn starts one task's process in its own process group.
func (r *Run) spawn(t Task) (*proc, error) {
	path, err := exec.LookPath(t.Command[0])
	if err != nil {
		return nil, fmt.Errorf("command %q not found: %w", t.Command[0], err)
	}
	cmd := exec.Command(path, t.Command[1:]...)
	cmd.Dir = t.Dir
	cmd.Env = append(append(os.Environ(), r.opts.Env...), envList(t.Env)...)
	setProcessGroup(cmd)
	// A grandchild that keeps our output pipes open must not keep Wait
	// (and the instance's stop) hanging once the task itself exited.
	cmd.WaitDelay = time.Second
	logger := r.opts.Logger.With("task", t.Name)
	p := &proc{task: t, cmd: cmd, done: make(chan struct{}), state: StateRunning}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", t.Command[0], err)
	}
	p.started = time.Now()
	logger.Info("startup task started", "kind", string(t.Kind), "pid", cmd.Process.Pid)
	var lines sync.WaitGroup
	lines.Add(2)
	go func() { defer lines.Done(); logLines(stdout, logger, slog.LevelInfo, "stdout") }()
	go func() { defer lines.Done(); logLines(stderr, logger, slog.LevelError, "stderr") }()
	go func() {
		lines.Wait() // cmd.Wait closes the pipes; read them to the end first
		err := cmd.Wait()
		p.finish(err)
		res := p.result()
		logger.Log(context.Background(), endLevel(res.State), "startup task ended",
			"state", string(res.State), "exit_code", p.exitCode(), "duration", res.Duration.String())
		close(p.done)
	}()
	return p, nil
}

// endLevel is the log level of a task's end: a failure is an error, a task
// killed (at a timeout, a deadline, a forced exit, or after ignoring
// SIGTERM) a warning, and an exit or a stop with the instance is normal.
func endLevel(s State) slog.Level {
	switch s {
	case StateFailed:
		return slog.LevelError
	case StateTimeout, StateKilled:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func envList(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return out
}

// started returns the processes started so far.
func (r *Run) started() []*proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ps []*proc
	for _, p := range r.procs {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

func (r *Run) waitAll() {
	for _, p := range r.started() {
		<-p.done
	}
}

// Stop ends the instance's tasks: Background tasks get SIGTERM to their
// process group, then SIGKILL after KillGrace or half of the time left
// until ctx's deadline, whichever is sooner; Foreground tasks are waited for (not signalled)
// until they exit or ctx is done, then killed with their group. It returns
// when every task process has exited; the error names the tasks that had to
// be killed because ctx ended. Idempotent; safe concurrently with Kill.
func (r *Run) Stop(ctx context.Context) error {
	r.stop.Do(func() { r.err = r.stopOnce(ctx) })
	return r.err
}

func (r *Run) stopOnce(ctx context.Context) error {
	ps := r.started()
	grace := time.NewTimer(r.killGrace(ctx))
	defer grace.Stop()
	for _, p := range ps {
		if p.task.Kind == Background && p.running() {
			p.markKilled(StateStopped)
			p.signalGroup(sigTerm)
		}
	}
	var killed []string
	for _, p := range ps {
		switch p.task.Kind {
		case Background:
			select {
			case <-p.done:
			case <-grace.C:
				p.markKilled(StateKilled)
				p.signalGroup(sigKill)
				<-p.done
			case <-ctx.Done():
				p.markKilled(StateKilled)
				p.signalGroup(sigKill)
				<-p.done
			}
		case Foreground:
			select {
			case <-p.done:
			case <-ctx.Done():
				p.markKilled(StateKilled)
				p.signalGroup(sigKill)
				<-p.done
				killed = append(killed, fmt.Sprintf("%s task %q", p.task.Kind, p.task.Name))
			}
		}
		// A task's children may outlive it in its group; leave nothing.
		p.signalGroup(sigKill)
	}
	if len(killed) > 0 {
		return fmt.Errorf("%s still running at the stop deadline (killed)", strings.Join(killed, ", "))
	}
	return nil
}

// killGrace is the SIGTERM→SIGKILL grace of this stop: KillGrace, but at
// most half of what is left until ctx's deadline, so a background task
// that ignores SIGTERM is killed, and reaped, well before the deadline
// instead of at it (which forced the host's exit).
func (r *Run) killGrace(ctx context.Context) time.Duration {
	g := r.opts.KillGrace
	if dl, ok := ctx.Deadline(); ok {
		g = min(g, time.Until(dl)/2)
	}
	return max(g, 0)
}

// Kill SIGKILLs every running task's process group and returns at once.
// It is the forced-exit path, so it never blocks. Idempotent.
func (r *Run) Kill() {
	for _, p := range r.started() {
		if p.running() {
			p.markKilled(StateKilled)
		}
		p.signalGroup(sigKill)
	}
}

// Waiting returns the names of Foreground tasks still running.
func (r *Run) Waiting() []string {
	var names []string
	for _, p := range r.started() {
		if p.task.Kind == Foreground && p.running() {
			names = append(names, p.task.Name)
		}
	}
	return names
}

// Running describes the tasks still running, as `<kind> task "<name>"`,
// in declared order: what a stop is waiting for.
func (r *Run) Running() []string {
	var out []string
	for _, p := range r.started() {
		if p.running() {
			out = append(out, fmt.Sprintf("%s task %q", p.task.Kind, p.task.Name))
		}
	}
	return out
}

// Results is a snapshot of every declared task, in declared order.
func (r *Run) Results() []Result {
	r.mu.Lock()
	procs := append([]*proc(nil), r.procs...)
	tasks := r.tasks
	r.mu.Unlock()
	out := make([]Result, len(tasks))
	for n, t := range tasks {
		if procs[n] == nil {
			out[n] = Result{Name: t.Name, Kind: t.Kind, State: StateNotStarted}
			continue
		}
		out[n] = procs[n].result()
	}
	return out
}

// Validate checks task declarations: names non-empty and unique, a known
// kind, a non-empty command, no negative timeout. The error names the task.
func Validate(tasks []Task) error {
	seen := map[string]bool{}
	for n, t := range tasks {
		where := "startup task #" + strconv.Itoa(n+1)
		if t.Name != "" {
			where = fmt.Sprintf("startup task %q", t.Name)
		}
		switch {
		case t.Name == "":
			return fmt.Errorf("%s: name is required", where)
		case seen[t.Name]:
			return fmt.Errorf("%s: name used twice", where)
		case t.Kind != Simple && t.Kind != Background && t.Kind != Foreground:
			return fmt.Errorf("%s: kind %q is not simple, background or foreground", where, t.Kind)
		case len(t.Command) == 0 || t.Command[0] == "":
			return fmt.Errorf("%s: command is required", where)
		case t.Timeout < 0:
			return fmt.Errorf("%s: negative timeout %s", where, t.Timeout)
		}
		seen[t.Name] = true
	}
	return nil
}
