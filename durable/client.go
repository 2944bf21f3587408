package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/client"
	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole/durable/internal/jsbackend"
)

// StartOptions qualify Start.
type StartOptions struct {
	// InstanceID is the caller's ID for the instance (required): what
	// Status, RaiseEvent, Terminate and Purge take. While an instance with
	// this ID runs, Start fails with ErrAlreadyRunning; once it has ended,
	// Start runs a new execution under the same ID.
	InstanceID string
	// Queue is where its orchestrator tasks (and, unless an activity says
	// otherwise, its activities) go. Defaults to "default".
	Queue string
}

// Start starts an orchestration instance: orchestrator is the function
// (checked against inputs) or its registered name, inputs its arguments
// (anything encoding/json takes; json.RawMessage passes JSON through).
// The start is one compare-and-set on the instance's log, so of concurrent
// starts of one ID exactly one succeeds and the others fail with
// ErrAlreadyRunning, with no check-then-start window.
//
// A name this hub has no orchestrator for fails with
// ErrUnknownOrchestrator when the hub has registered any (a hub that only
// starts instances, such as a command-line tool, cannot check: the
// instance then fails with "workflow ... not found").
func (h *Hub) Start(ctx context.Context, orchestrator any, opts StartOptions, inputs ...any) error {
	if opts.InstanceID == "" {
		return fmt.Errorf("%w: StartOptions.InstanceID is required", ErrInvalidOptions)
	}
	name := ""
	if s, ok := orchestrator.(string); ok {
		name = s
	} else {
		name = funcName(orchestrator)
	}
	h.mu.Lock()
	fn, known := h.orchestrators[name]
	some := len(h.orchestrators) > 0
	h.mu.Unlock()
	if some && !known {
		return fmt.Errorf("%w: %q (this hub has %s)", ErrUnknownOrchestrator, name, h.registered())
	}
	if known {
		if err := checkInputs(name, fn, inputs); err != nil {
			return err
		}
	}
	_, err := h.c.CreateWorkflowInstance(ctx, client.WorkflowInstanceOptions{
		InstanceID: opts.InstanceID,
		Queue:      workflow.Queue(opts.Queue),
	}, orchestrator, inputs...)
	switch {
	case errors.Is(err, backend.ErrInstanceAlreadyExists):
		return fmt.Errorf("%w: %q", ErrAlreadyRunning, opts.InstanceID)
	case err != nil:
		return wrapErr(fmt.Sprintf("start %s %q", name, opts.InstanceID), err)
	}
	h.stats.started.Add(1)
	return nil
}

func (h *Hub) registered() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.orchestrators))
	for n := range h.orchestrators {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// wrapErr turns the backend's sentinels into the package's.
func wrapErr(what string, err error) error {
	switch {
	case errors.Is(err, backend.ErrInstanceNotFound):
		return fmt.Errorf("durable: %s: %w", what, ErrNotFound)
	case errors.Is(err, jsbackend.ErrNotRunning):
		return fmt.Errorf("durable: %s: %w", what, ErrNotRunning)
	case errors.Is(err, backend.ErrInstanceNotFinished):
		return fmt.Errorf("durable: %s: %w", what, ErrRunning)
	case jsbackend.IsTooLarge(err):
		return fmt.Errorf("durable: %s: %w: %v", what, ErrTooLarge, err)
	}
	return fmt.Errorf("durable: %s: %w", what, err)
}

// Status returns the instance's latest execution, or an error wrapping
// ErrNotFound.
func (h *Hub) Status(ctx context.Context, instanceID string) (*Status, error) {
	d, err := h.b.Describe(ctx, instanceID)
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("status %q", instanceID), err)
	}
	return statusOf(d), nil
}

// RaiseEvent delivers an event to the instance's running execution: the
// orchestrator receives it from workflow.NewSignalChannel(ctx, name).
// data is encoded as JSON. It fails with ErrNotFound for an unknown
// instance and ErrNotRunning for one that has ended.
func (h *Hub) RaiseEvent(ctx context.Context, instanceID, name string, data any) error {
	if name == "" {
		return fmt.Errorf("%w: an event needs a name", ErrInvalidOptions)
	}
	err := h.c.SignalWorkflow(ctx, instanceID, name, data)
	if errors.Is(err, backend.ErrInstanceNotFound) {
		if _, derr := h.b.Describe(ctx, instanceID); derr == nil {
			err = jsbackend.ErrNotRunning
		}
	}
	if err != nil {
		return wrapErr(fmt.Sprintf("raise %q on %q", name, instanceID), err)
	}
	return nil
}

// Terminate ends the instance's running execution at once: none of its
// code runs again, its status becomes Terminated with reason, a parent
// orchestration waiting for it gets a failure. Activities already running
// finish, their results dropped. It fails with ErrNotFound or
// ErrNotRunning.
func (h *Hub) Terminate(ctx context.Context, instanceID, reason string) error {
	if err := h.b.Terminate(ctx, instanceID, reason); err != nil {
		return wrapErr(fmt.Sprintf("terminate %q", instanceID), err)
	}
	// Counted by name for metrics: one more read, on an operator's action.
	name := ""
	if d, err := h.b.Describe(ctx, instanceID); err == nil {
		name = d.Name
	}
	h.wb.byName.add(name, func(o *OrchestratorFigures) { o.Terminated++ })
	return nil
}

// Wait blocks until the instance has ended (Completed, Failed or
// Terminated; ContinueAsNew goes on) and returns its status, or returns
// ctx's error. It wakes on each change of the instance rather than
// polling.
func (h *Hub) Wait(ctx context.Context, instanceID string) (*Status, error) {
	changed, stop, err := h.b.Watch(instanceID)
	if err != nil {
		return nil, err
	}
	defer stop()
	// A safety net for a missed wake-up (a reconnect): look again now
	// and then anyway.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	// A notice can come a moment before the stream has stored its write,
	// and notices coalesce: after each, look again a few times shortly.
	retry := time.Duration(0)
	for {
		s, err := h.Status(ctx, instanceID)
		if err != nil {
			return nil, err
		}
		if s.RuntimeStatus.terminal() {
			return s, nil
		}
		var again <-chan time.Time
		if retry > 0 && retry <= 64*time.Millisecond {
			again = time.After(retry)
			retry *= 2
		}
		select {
		case <-changed:
			retry = time.Millisecond
		case <-again:
		case <-t.C:
		case <-ctx.Done():
			return s, context.Cause(ctx)
		}
	}
}

// Purge removes the instance's history and state (every execution): its
// ID is then unknown. It fails with ErrNotFound, or ErrRunning for an
// instance still running (terminate it first).
func (h *Hub) Purge(ctx context.Context, instanceID string) error {
	if err := h.b.Purge(ctx, instanceID); err != nil {
		return wrapErr(fmt.Sprintf("purge %q", instanceID), err)
	}
	return nil
}

// ListOptions filter List.
type ListOptions struct {
	// RuntimeStatus keeps the instances in one of these states; none: all.
	RuntimeStatus []RuntimeStatus
	// CreatedFrom and CreatedTo keep the instances created in [From, To).
	CreatedFrom, CreatedTo time.Time
	// ShowInput includes inputs and outputs (one more read per instance).
	ShowInput bool
	// Limit caps the result (0: no cap).
	Limit int
}

// List returns the instances of the hub (each one's latest execution),
// newest first. It reads every instance's state: an operator's view, not
// a hot path.
func (h *Hub) List(ctx context.Context, opts ListOptions) ([]*Status, error) {
	all, err := h.b.Instances(ctx, opts.ShowInput)
	if err != nil {
		return nil, wrapErr("list", err)
	}
	var out []*Status
	for _, d := range all {
		s := statusOf(d)
		if len(opts.RuntimeStatus) > 0 && !slices.Contains(opts.RuntimeStatus, s.RuntimeStatus) {
			continue
		}
		if !opts.CreatedFrom.IsZero() && s.CreatedTime.Before(opts.CreatedFrom) {
			continue
		}
		if !opts.CreatedTo.IsZero() && !s.CreatedTime.Before(opts.CreatedTo) {
			continue
		}
		out = append(out, s)
		if opts.Limit > 0 && len(out) == opts.Limit {
			break
		}
	}
	return out, nil
}

// checkInputs checks inputs against the orchestrator's parameters (after
// its workflow.Context): their number, and that each value, as JSON,
// decodes into its parameter's type, as the worker will decode it.
func checkInputs(name string, fn any, inputs []any) error {
	t := reflect.TypeOf(fn)
	if t == nil || t.Kind() != reflect.Func {
		return nil
	}
	params := make([]reflect.Type, 0, t.NumIn())
	for i := 1; i < t.NumIn(); i++ {
		params = append(params, t.In(i))
	}
	if len(inputs) != len(params) {
		return fmt.Errorf("%w: orchestrator %q takes %d input(s) %v, got %d", ErrInvalidInput, name, len(params), params, len(inputs))
	}
	for i, in := range inputs {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%w: orchestrator %q input %d: %v", ErrInvalidInput, name, i+1, err)
		}
		if err := json.Unmarshal(b, reflect.New(params[i]).Interface()); err != nil {
			return fmt.Errorf("%w: orchestrator %q input %d (%s) does not decode into %v: %v", ErrInvalidInput, name, i+1, truncate(b, 80), params[i], err)
		}
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
