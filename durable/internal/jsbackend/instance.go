package jsbackend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/workflow"
)

// CreateWorkflowInstance starts an execution of instance. It fails with
// backend.ErrInstanceAlreadyExists while another execution of the same
// instance ID is running: the start is one compare-and-set on the
// instance's log, so of concurrent starters exactly one wins.
func (b *Backend) CreateWorkflowInstance(ctx context.Context, instance *workflow.Instance, event *history.Event) error {
	a, ok := event.Attributes.(*history.ExecutionStartedAttributes)
	if !ok {
		return fmt.Errorf("jsbackend: create %q: the first event is %v, not a start", instance.InstanceID, event.Type)
	}
	queue := string(a.Queue)
	if queue == "" {
		queue = string(workflow.QueueDefault)
	}
	for attempt := 0; ; attempt++ {
		expect, snap, err := b.latest(ctx, instance.InstanceID)
		if err != nil {
			return err
		}
		if snap != nil && snap.State == core.WorkflowInstanceStateActive {
			if snap.Instance.ExecutionID == instance.ExecutionID {
				return nil // our own start, whose answer was lost
			}
			return backend.ErrInstanceAlreadyExists
		}
		e := &entry{
			Instance: instance.InstanceID,
			Exec:     instance.ExecutionID,
			Snap:     newSnapshot(instance, queue, a, expect),
			Events:   []*history.Event{event},
		}
		m, err := b.casMsg(b.n.start(instance.InstanceID, instance.ExecutionID, queue), instance.InstanceID, expect, e)
		if err != nil {
			return err
		}
		if _, err := b.st.publish(ctx, m); err != nil {
			if errors.Is(err, errConflict) && attempt < maxAttempts {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("jsbackend: create %q: %w", instance.InstanceID, err)
		}
		return nil
	}
}

// newSnapshot is the state of a new execution whose log so far ends at
// last.
func newSnapshot(instance *workflow.Instance, queue string, a *history.ExecutionStartedAttributes, last uint64) *snapshot {
	return &snapshot{
		Instance:  instance,
		Queue:     queue,
		Name:      a.Name,
		State:     core.WorkflowInstanceStateActive,
		CreatedAt: time.Now().UTC(),
		Metadata:  a.Metadata,
		Cursor:    last,
		Queued:    true,
	}
}

// latest returns the last sequence of inst's log (what a snapshot writer
// expects) and its latest snapshot, nil if it has none.
func (b *Backend) latest(ctx context.Context, inst string) (uint64, *snapshot, error) {
	m, err := b.st.last(ctx, b.n.log(inst))
	if err != nil || m == nil {
		return 0, nil, err
	}
	sm := m
	if ls, err := b.n.parse(m.Subject); err != nil || ls.kind != "m" {
		if sm, err = b.st.last(ctx, b.n.snaps(inst)); err != nil {
			return 0, nil, err
		}
		if sm == nil {
			return m.Seq, nil, nil
		}
	}
	e, err := decodeEntry(sm.Data)
	if err != nil || e.Snap == nil {
		return 0, nil, fmt.Errorf("jsbackend: instance %q: bad snapshot at %d: %v", inst, sm.Seq, err)
	}
	e.Snap.resolve(sm.Seq)
	return m.Seq, e.Snap, nil
}

// execSnapshot returns the latest snapshot of one execution and the body
// of its message, or backend.ErrInstanceNotFound.
func (b *Backend) execSnapshot(ctx context.Context, instance *core.WorkflowInstance) (*snapshot, *entry, *rawMsg, error) {
	m, err := b.st.last(ctx, b.n.execSnaps(instance.InstanceID, instance.ExecutionID))
	if err != nil {
		return nil, nil, nil, err
	}
	if m == nil {
		return nil, nil, nil, backend.ErrInstanceNotFound
	}
	e, err := decodeEntry(m.Data)
	if err != nil || e.Snap == nil {
		return nil, nil, nil, fmt.Errorf("jsbackend: instance %q: bad snapshot at %d: %v", instance.InstanceID, m.Seq, err)
	}
	e.Snap.resolve(m.Seq)
	return e.Snap, e, m, nil
}

// GetWorkflowInstanceState returns the state of one execution.
func (b *Backend) GetWorkflowInstanceState(ctx context.Context, instance *workflow.Instance) (core.WorkflowInstanceState, error) {
	s, _, _, err := b.execSnapshot(ctx, instance)
	if err != nil {
		return core.WorkflowInstanceStateActive, err
	}
	return s.State, nil
}

// GetWorkflowInstanceHistory returns one execution's history after
// lastSequenceID (all of it if nil): the events of its commits, in order.
func (b *Backend) GetWorkflowInstanceHistory(ctx context.Context, instance *workflow.Instance, lastSequenceID *int64) ([]*history.Event, error) {
	msgs, err := b.st.scan(ctx, b.n.commits(instance.InstanceID, instance.ExecutionID), 1)
	if err != nil {
		return nil, err
	}
	var after int64
	if lastSequenceID != nil {
		after = *lastSequenceID
	}
	var out []*history.Event
	for _, m := range msgs {
		e, err := decodeEntry(m.Data)
		if err != nil {
			return nil, fmt.Errorf("jsbackend: instance %q: bad commit at %d: %w", instance.InstanceID, m.Seq, err)
		}
		for _, ev := range e.History {
			if ev.SequenceID > after {
				out = append(out, ev)
			}
		}
	}
	return out, nil
}

// SignalWorkflow delivers event to the running execution of instanceID,
// or fails with backend.ErrInstanceNotFound if none runs.
func (b *Backend) SignalWorkflow(ctx context.Context, instanceID string, event *history.Event) error {
	_, snap, err := b.latest(ctx, instanceID)
	if err != nil {
		return err
	}
	if snap == nil || snap.State != core.WorkflowInstanceStateActive {
		return backend.ErrInstanceNotFound
	}
	return b.deliver(ctx, snap.Instance, snap.Queue, event, "g."+event.ID, "")
}

// CancelWorkflowInstance asks a running execution to cancel. It fails with
// backend.ErrInstanceNotFound for an unknown one and does nothing for one
// that has finished.
func (b *Backend) CancelWorkflowInstance(ctx context.Context, instance *workflow.Instance, event *history.Event) error {
	s, _, _, err := b.execSnapshot(ctx, instance)
	if err != nil {
		return err
	}
	if s.State != core.WorkflowInstanceStateActive {
		return nil
	}
	return b.deliver(ctx, s.Instance, s.Queue, event, "c."+event.ID, "")
}

// deliver appends event to an execution's log: a plain append, no
// compare-and-set, so events never contend with each other or with a
// running workflow task (see currentTask for how an idle instance wakes).
// msgID lets the server drop a repeat; activityID marks an activity's
// result.
func (b *Backend) deliver(ctx context.Context, instance *core.WorkflowInstance, queue string, event *history.Event, msgID, activityID string) error {
	m, err := b.plainMsg(b.n.event(instance.InstanceID, instance.ExecutionID, queue), &entry{
		Instance:   instance.InstanceID,
		Exec:       instance.ExecutionID,
		Events:     []*history.Event{event},
		ActivityID: activityID,
	})
	if err != nil {
		return err
	}
	if msgID != "" {
		dedupe(m, msgID)
	}
	if _, err := b.st.publish(ctx, m); err != nil {
		return fmt.Errorf("jsbackend: deliver %v to %q: %w", event.Type, instance.InstanceID, err)
	}
	return nil
}

// maxAttempts bounds the retries of a write that lost a race.
const maxAttempts = 200

// backoff waits before attempt+1 of a write that lost a race: no wait at
// first, then growing to 50 ms, with jitter so that racing writers
// spread out.
func backoff(ctx context.Context, attempt int) error {
	if attempt < 2 {
		return ctx.Err()
	}
	d := time.Duration(1<<min(attempt-2, 6)) * time.Millisecond
	d = d/2 + time.Duration(jitter(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
