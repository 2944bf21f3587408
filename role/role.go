package role

import (
	"context"
	"net/http"
)

// Role is a long-running worker. The host calls OnStart, then Run, then
// OnStop, each once per instance, never concurrently with each other.
type Role interface {
	// OnStart initialises the instance. The instance becomes ready (its
	// readiness probe turns healthy) only after OnStart returns nil. An error
	// or a panic fails the start: the host calls OnStop, then recycles the
	// instance after a backoff. ctx is cancelled when the host stops.
	OnStart(ctx context.Context, env Env) error

	// Run does the role's work and should block until ctx is done. When Run
	// returns — nil, an error, or a panic — the instance recycles: OnStop
	// runs and a new instance starts in the same process. ctx is cancelled,
	// with a cause (see context.Cause), when the host stops or the instance
	// must recycle; Run should then return promptly, because the stop
	// deadline is already running.
	Run(ctx context.Context, env Env) error

	// OnStop cleans up after Run has returned (or after a failed OnStart).
	// ctx carries the stop deadline: code still running when it passes is
	// abandoned and the process exits non-zero (the forced termination).
	// The error is logged; it does not change what happens next.
	OnStop(ctx context.Context, env Env) error
}

// Default is an embeddable Role with RoleEntryPoint's defaults: OnStart
// returns nil, Run blocks until its context is done, OnStop does nothing.
//
//	type worker struct{ role.Default }
//	func (w *worker) Run(ctx context.Context, env role.Env) error { ... }
type Default struct{}

var _ Role = Default{}

// OnStart returns nil.
func (Default) OnStart(context.Context, Env) error { return nil }

// Run blocks until ctx is done and returns nil.
func (Default) Run(ctx context.Context, _ Env) error {
	<-ctx.Done()
	return nil
}

// OnStop returns nil.
func (Default) OnStop(context.Context, Env) error { return nil }

// Router is an optional interface of a Role: one that implements it serves
// its own HTTP handlers on the host's health server, beside /livez,
// /healthz, /readyz and /status (those stay the host's: a pattern of the
// role's that matches one is never reached). The host calls Routes once,
// before it serves and before the first OnStart, so the handlers live for
// the whole process, across in-process recycles, and must not hold an Env.
// The requests they get carry, in their context, what queue.Connect needs,
// so a handler can enqueue. A pattern registered twice is an error that
// stops the host before anything starts.
type Router interface {
	Routes(mux *http.ServeMux)
}
