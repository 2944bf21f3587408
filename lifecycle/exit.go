package lifecycle

import (
	"errors"
	"fmt"
)

// Exit codes of a role process. They are part of the public contract: service
// managers and scripts act on them.
const (
	ExitOK          = 0 // stopped cleanly
	ExitError       = 1 // could not run (e.g. the health address is in use, or another process holds the embedded NATS store: queue.ErrStoreLocked)
	ExitUsage       = 2 // bad command line
	ExitConfig      = 3 // the config is invalid; nothing was started
	ExitCrashLoop   = 4 // host.failure_action is exit and max_failures was reached
	ExitStopTimeout = 5 // the stop deadline passed: forced termination
	ExitForced      = 6 // a second SIGINT/SIGTERM during the stop
)

var (
	// ErrStopping is the cause of the contexts the host cancels when it
	// stops (wrapped with what triggered the stop).
	ErrStopping = errors.New("host stopping")
	// ErrAlreadyRun is returned by a second call to Host.Run.
	ErrAlreadyRun = errors.New("lifecycle: host already run")
)

// CrashLoopError ends Run when host.failure_action is "exit" and
// max_failures consecutive instances failed.
type CrashLoopError struct {
	Failures int
	Last     string // reason of the last failure
}

func (e *CrashLoopError) Error() string {
	return fmt.Sprintf("crash loop: %d consecutive failed instances; last: %s", e.Failures, e.Last)
}

// ForcedExitError ends Run when the host forced the exit: the stop deadline
// passed (Code ExitStopTimeout) or a second signal arrived (ExitForced).
type ForcedExitError struct {
	Code   int
	Reason string
}

func (e *ForcedExitError) Error() string { return "forced exit: " + e.Reason }

// RecycleError is the cause of Run's context when the instance recycles
// while the process keeps running.
type RecycleError struct{ Reason string }

func (e *RecycleError) Error() string { return "recycle: " + e.Reason }

// PanicError is a panic recovered from a role hook.
type PanicError struct {
	Hook  string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.Hook, e.Value) }

// ExitCode maps what Run returned to the process exit code.
func ExitCode(err error) int {
	var (
		crash  *CrashLoopError
		forced *ForcedExitError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &forced):
		return forced.Code
	case errors.As(err, &crash):
		return ExitCrashLoop
	default:
		return ExitError
	}
}
