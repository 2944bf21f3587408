package tasks

import (
	"errors"
	"fmt"
)

var (
	// ErrGroupEnded is returned by Go, Periodic and Cron once the group's
	// context has ended: a task cannot join a group that is stopping.
	ErrGroupEnded = errors.New("tasks: group has ended")

	// ErrInvalid is wrapped by every error that rejects a task when it is
	// added: an empty or duplicate name, a nil function, an option that does
	// not apply to the kind of task, a malformed CRON spec.
	ErrInvalid = errors.New("tasks: invalid task")

	// ErrGroupStopped is the cancellation cause tasks see when Group.Stop
	// ended their group.
	ErrGroupStopped = errors.New("tasks: group stopped")

	// ErrStalled is the cancellation cause a task sees when it stayed silent
	// (no Beat) past its StallAfter limit; the task is then restarted.
	ErrStalled = errors.New("tasks: task stalled")

	// ErrIntensity is wrapped by the fatal error that ends a group when a
	// task restarted more than its restart intensity allows.
	ErrIntensity = errors.New("tasks: restart intensity exceeded")

	// ErrAbandoned means a task did not return within the grace period after
	// its context was cancelled. Goroutines cannot be killed, so the group
	// stops waiting for it: when this happens while the group runs (after a
	// stall or a lost lease) it is fatal; when the group is ending, Wait
	// returns it so the host knows a goroutine was left behind.
	ErrAbandoned = errors.New("tasks: task ignored cancellation and was abandoned")
)

// FatalError ends a group: a task function returns one (made by Fatal,
// possibly wrapped), or the group makes one when a task escalates (restart
// intensity exceeded, cancellation ignored). Wait returns it with Task set to
// the task that caused it; find it with errors.As.
type FatalError struct {
	// Task names the task that ended the group; empty in the value Fatal
	// returns, set in the one Wait returns.
	Task string
	// Err is what went wrong.
	Err error
}

// Fatal marks err as fatal: a task function that returns it (directly or
// wrapped with %w) cancels every task in its group and makes Wait return a
// *FatalError naming the task. Fatal(nil) returns nil. The marker does not
// change the message: Fatal(err).Error() == err.Error().
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &FatalError{Err: err}
}

// Error returns `task "name": fatal: <err>`, or err's own message when Task
// is empty (the marker Fatal made).
func (e *FatalError) Error() string {
	if e.Task == "" {
		if e.Err == nil {
			return "fatal error"
		}
		return e.Err.Error()
	}
	return fmt.Sprintf("task %q: fatal: %v", e.Task, e.Err)
}

// Unwrap returns Err.
func (e *FatalError) Unwrap() error { return e.Err }

// panicError is the error a run ends with when its function panicked.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// Unwrap exposes a panic value that is an error, so panic(tasks.Fatal(err))
// is fatal like returning it.
func (e *panicError) Unwrap() error {
	err, _ := e.value.(error)
	return err
}

// invalidf returns an error wrapping ErrInvalid that names the task and its
// kind, e.g. `tasks: Cron "report": ...`.
func invalidf(kind kind, name, format string, args ...any) error {
	return fmt.Errorf("%w: %s %q: %s", ErrInvalid, kind.method(), name, fmt.Sprintf(format, args...))
}
