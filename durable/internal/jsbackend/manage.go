package jsbackend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/backend/payload"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"
)

// ErrNotRunning: the instance's latest execution has finished.
var ErrNotRunning = errors.New("jsbackend: the instance is not running")

// TerminatedType is the error type of a terminated execution's failure.
const TerminatedType = "Terminated"

// Instance is what the backend knows of an instance's latest execution.
type Instance struct {
	Instance    *core.WorkflowInstance
	Name        string
	Queue       string
	State       core.WorkflowInstanceState
	Started     bool   // a workflow task has run
	Terminated  string // the reason, if Terminate ended it
	CreatedAt   time.Time
	CompletedAt *time.Time
	UpdatedAt   time.Time // when the state was last written
	Inputs      []payload.Payload
	Result      payload.Payload
	Error       *workflow.Error
}

// Describe returns the latest execution of instanceID, with its inputs and
// (once finished) its result or error, or backend.ErrInstanceNotFound.
func (b *Backend) Describe(ctx context.Context, instanceID string) (*Instance, error) {
	m, err := b.st.last(ctx, b.n.snaps(instanceID))
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, backend.ErrInstanceNotFound
	}
	return b.describe(ctx, instanceID, m)
}

func (b *Backend) describe(ctx context.Context, inst string, m *rawMsg) (*Instance, error) {
	v := &view{inst: inst}
	if err := v.setSnapshot(b.n, m); err != nil {
		return nil, err
	}
	s := v.snap
	out := &Instance{
		Instance: s.Instance, Name: s.Name, Queue: s.Queue, State: s.State, Started: s.LastSeqID > 0,
		Terminated: s.Terminated, CreatedAt: s.CreatedAt, CompletedAt: s.CompletedAt, UpdatedAt: m.Time, Error: s.Failed,
	}
	// The inputs are in the start event, the first one the execution got.
	start := m
	if s.Start != m.Seq {
		var err error
		if start, err = b.st.bySeq(ctx, s.Start); err != nil {
			return nil, err
		}
	}
	if start != nil { // nil: removed meanwhile
		if err := b.inputsOf(start, out); err != nil {
			return nil, err
		}
	}
	if s.finished() && v.commit {
		e, err := decodeEntry(m.Data)
		if err != nil {
			return nil, fmt.Errorf("jsbackend: instance %q: bad commit at %d: %w", inst, m.Seq, err)
		}
		for i := len(e.History) - 1; i >= 0; i-- {
			switch a := e.History[i].Attributes.(type) {
			case *history.ExecutionCompletedAttributes:
				out.Result, out.Error = a.Result, a.Error
			case *history.ExecutionContinuedAsNewAttributes:
				out.Result = a.Result
			default:
				continue
			}
			break
		}
	}
	return out, nil
}

func (b *Backend) inputsOf(start *rawMsg, out *Instance) error {
	e, err := decodeSnapEntry(start.Data)
	if err != nil || e.Snap == nil || len(e.Snap.Pending) == 0 {
		return nil // not a start message any more (should not happen): no inputs
	}
	evs, err := decodeEvents(e.Snap.Pending[:1])
	if err != nil {
		return fmt.Errorf("jsbackend: bad start event at %d: %w", start.Seq, err)
	}
	if a, ok := evs[0].Attributes.(*history.ExecutionStartedAttributes); ok {
		out.Inputs = a.Inputs
	}
	return nil
}

// Instances describes the latest execution of every instance (inputs
// and results left out unless withData).
func (b *Backend) Instances(ctx context.Context, withData bool) ([]*Instance, error) {
	list, err := b.executions(ctx)
	if err != nil {
		return nil, err
	}
	latest := map[string]*execution{}
	for _, x := range list {
		id := x.Instance.InstanceID
		if cur, ok := latest[id]; !ok || x.Seq > cur.Seq {
			latest[id] = x
		}
	}
	var out []*Instance
	for _, x := range list { // keeps the newest-first order
		if latest[x.Instance.InstanceID] != x {
			continue
		}
		if withData {
			d, err := b.Describe(ctx, x.Instance.InstanceID)
			if errors.Is(err, backend.ErrInstanceNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, d)
			continue
		}
		s := x.Snap
		out = append(out, &Instance{Instance: s.Instance, Name: s.Name, Queue: s.Queue, State: s.State, Started: s.LastSeqID > 0,
			Terminated: s.Terminated, CreatedAt: s.CreatedAt, CompletedAt: s.CompletedAt, UpdatedAt: x.Time, Error: s.Failed})
	}
	return out, nil
}

// Terminate ends the running execution of instanceID at once: no more of
// its code runs, its history ends with a failure of type TerminatedType
// that gives the reason, and a parent waiting for it gets that failure.
// It fails with backend.ErrInstanceNotFound or ErrNotRunning.
func (b *Backend) Terminate(ctx context.Context, instanceID, reason string) error {
	if reason == "" {
		reason = "terminated"
	}
	id := newID()
	for attempt := 0; ; attempt++ {
		v, err := b.loadView(ctx, instanceID, nil)
		if err != nil {
			return err
		}
		if v.snap == nil {
			return backend.ErrInstanceNotFound
		}
		if v.entry.Commit == id {
			return nil // ours, its answer lost
		}
		if !v.active("") {
			return ErrNotRunning
		}
		werr := &workflow.Error{Type: TerminatedType, Message: "terminated: " + reason, Permanent: true}
		msgs, err := b.endMsgs(ctx, v, werr, reason, id)
		if err != nil {
			return err
		}
		if _, err := b.st.publishBatch(ctx, msgs); err != nil {
			if (errors.Is(err, errConflict) || errors.Is(err, errBusy)) && attempt < maxAttempts {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("jsbackend: terminate %q: %w", instanceID, err)
		}
		return nil
	}
}

// endMsgs end v's execution with werr, not running any more of it (a
// termination when terminated is its reason): a commit whose history ends
// with the failure, and the failure for a parent waiting for it.
func (b *Backend) endMsgs(ctx context.Context, v *view, werr *workflow.Error, terminated, id string) ([]*nats.Msg, error) {
	s := v.next()
	wi := s.Instance
	now := time.Now().UTC()
	done := history.NewHistoryEvent(s.LastSeqID+1, now, history.EventType_WorkflowExecutionFinished,
		&history.ExecutionCompletedAttributes{Error: werr})
	s.LastSeqID = done.SequenceID
	s.State, s.CompletedAt, s.Terminated, s.Failed = core.WorkflowInstanceStateFinished, &now, terminated, werr
	s.Pending, s.Activities, s.Timers, s.Queued, s.Task = nil, nil, nil, false, 0
	m, err := b.casMsg(b.n.commit(v.inst, wi.ExecutionID, routeNone()), v.inst, v.last,
		&entry{Instance: v.inst, Exec: wi.ExecutionID, Snap: s, Commit: id, History: []*history.Event{done}})
	if err != nil {
		return nil, err
	}
	msgs := []*nats.Msg{m}
	if wi.Parent != nil {
		// A parent waiting for this sub-workflow would wait forever.
		pv, err := b.loadView(ctx, wi.Parent.InstanceID, nil)
		if err != nil {
			return nil, err
		}
		failed := history.NewPendingEvent(now, history.EventType_SubWorkflowFailed,
			&history.SubWorkflowFailedAttributes{Error: werr}, history.ScheduleEventID(wi.ParentEventID))
		pm, _, _, err := b.appendMsg(pv, wi.Parent.ExecutionID, []*history.Event{failed}, appendOpts{})
		if err != nil {
			return nil, err
		}
		if pm != nil {
			msgs = append(msgs, pm)
		}
	}
	return msgs, nil
}

// Purge removes every execution of instanceID, which must not be
// running: ErrInstanceNotFound, or ErrInstanceNotFinished.
func (b *Backend) Purge(ctx context.Context, instanceID string) error {
	v, err := b.loadView(ctx, instanceID, nil)
	if err != nil {
		return err
	}
	if v.snap == nil {
		return backend.ErrInstanceNotFound
	}
	if v.active("") {
		return backend.ErrInstanceNotFinished
	}
	list, err := b.executionsOf(ctx, instanceID)
	if err != nil {
		return err
	}
	for _, exec := range list {
		if err := b.purge(ctx, core.NewWorkflowInstance(instanceID, exec)); err != nil {
			return err
		}
	}
	return nil
}

// Watch returns a channel that gets a value (coalesced) whenever a
// snapshot of instanceID is published, and a function to stop watching. It
// lets a waiter re-read the state when it changes instead of polling. The
// notice is the published message itself, which can arrive a moment before
// the stream has stored it: a reader that still sees the old state should
// look again shortly.
func (b *Backend) Watch(instanceID string) (<-chan struct{}, func(), error) {
	ch := make(chan struct{}, 1)
	sub, err := b.st.nc.Subscribe(b.n.snaps(instanceID), func(*nats.Msg) {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("jsbackend: watch %q: %w", instanceID, err)
	}
	return ch, func() { _ = sub.Unsubscribe() }, nil
}
