package durable

import "errors"

var (
	// ErrNotFound: no orchestration instance has this ID.
	ErrNotFound = errors.New("durable: no such orchestration instance")
	// ErrAlreadyRunning: Start was given the ID of an instance that is
	// running (Pending or Running). Of concurrent starts of one ID
	// exactly one succeeds; the others get this error.
	ErrAlreadyRunning = errors.New("durable: an orchestration instance with this ID is running")
	// ErrNotRunning: the instance has finished (Terminate), or has no
	// running execution to raise an event to (RaiseEvent).
	ErrNotRunning = errors.New("durable: the orchestration instance is not running")
	// ErrRunning: the instance is still running (Purge).
	ErrRunning = errors.New("durable: the orchestration instance is still running")
	// ErrUnknownOrchestrator: Start was given a name this hub has no
	// orchestrator registered under.
	ErrUnknownOrchestrator = errors.New("durable: no orchestrator is registered under this name")
	// ErrInvalidInput: Start's inputs do not fit the orchestrator's
	// parameters (their number, or a value that does not decode into its
	// parameter's type); the error names the orchestrator, the argument
	// and the type.
	ErrInvalidInput = errors.New("durable: invalid input")
	// ErrTooLarge: an input, event or result is larger than the NATS
	// server accepts in one message (its max_payload).
	ErrTooLarge = errors.New("durable: payload too large")
	// ErrInvalidOptions: an Options field or a call's argument is wrong;
	// the error says which.
	ErrInvalidOptions = errors.New("durable: invalid options")
	// ErrDrainTimeout: Work stopped waiting for tasks still running after
	// Options.DrainTimeout; their leases run out and another worker takes
	// them.
	ErrDrainTimeout = errors.New("durable: drain timeout")
	// ErrUnauthorized is wrapped by an HTTPOptions.Authorize that wants a
	// credential the request did not carry (answered 401).
	ErrUnauthorized = errors.New("durable: this action needs an operator token (Authorization: Bearer <console.token>)")
	// ErrNoHub: Open with NoCreate found no stream for the hub: no role
	// on this NATS has opened it.
	ErrNoHub = errors.New("durable: no such hub")
	// ErrClosed: the hub was closed.
	ErrClosed = errors.New("durable: hub closed")
)
