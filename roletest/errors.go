package roletest

import (
	"errors"
	"fmt"
)

// The causes an Instance cancels its context with, so a role's Run sees why
// it must return, as under the host. roletest does not import the host
// (package lifecycle, which brings the config parser, the health server and
// the service code into every test binary), so these stand for the host's
// lifecycle.ErrStopping and *lifecycle.RecycleError; a test that needs the
// host's own cause passes it to Instance.Stop, which wraps it.
var (
	// ErrStopped is wrapped by the cause when the instance stops as the
	// process would: Instance.Stop, the context given to Run ending, or
	// the role's RequestStop (lifecycle.ErrStopping under the host).
	ErrStopped = errors.New("roletest: stopped")

	// ErrRecycled is wrapped by the cause when the instance ends so that
	// a new one can start, as the host's in-process recycle: the role's
	// RequestRecycle, a vetoed settings change, Run returning by itself or
	// a failed OnStart (*lifecycle.RecycleError under the host).
	ErrRecycled = errors.New("roletest: recycle")
)

// PanicError is a panic recovered from a role hook, returned in its place
// as the host does (lifecycle.PanicError).
type PanicError struct {
	Hook  string // "OnStart", "Run" or "OnStop"
	Value any    // what the hook panicked with
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.Hook, e.Value) }
