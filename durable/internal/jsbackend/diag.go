package jsbackend

import (
	"context"
	"errors"
	"fmt"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/diag"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go/jetstream"
)

var _ diag.Backend = (*Backend)(nil)

func ref(x *execution) *diag.WorkflowInstanceRef {
	return &diag.WorkflowInstanceRef{
		Instance:    x.Instance,
		CreatedAt:   x.Snap.CreatedAt,
		CompletedAt: x.Snap.CompletedAt,
		State:       x.Snap.State,
		Queue:       x.Snap.Queue,
	}
}

// GetWorkflowInstance returns one execution for the diagnostics UI.
func (b *Backend) GetWorkflowInstance(ctx context.Context, instance *core.WorkflowInstance) (*diag.WorkflowInstanceRef, error) {
	s, _, m, err := b.execSnapshot(ctx, instance)
	if err != nil {
		return nil, err
	}
	return ref(&execution{Instance: s.Instance, Snap: s, Seq: m.Seq}), nil
}

// GetWorkflowInstances returns up to count executions, newest first,
// after the given one ("" for the first page).
func (b *Backend) GetWorkflowInstances(ctx context.Context, afterInstanceID, afterExecutionID string, count int) ([]*diag.WorkflowInstanceRef, error) {
	list, err := b.executions(ctx)
	if err != nil {
		return nil, err
	}
	i := 0
	if afterInstanceID != "" {
		i = len(list)
		for j, x := range list {
			if x.Instance.InstanceID == afterInstanceID && x.Instance.ExecutionID == afterExecutionID {
				i = j + 1
				break
			}
		}
	}
	var out []*diag.WorkflowInstanceRef
	for ; i < len(list) && len(out) < count; i++ {
		out = append(out, ref(list[i]))
	}
	return out, nil
}

// GetWorkflowTree returns the tree of sub-workflows an execution belongs to.
func (b *Backend) GetWorkflowTree(ctx context.Context, instance *core.WorkflowInstance) (*diag.WorkflowInstanceTree, error) {
	return diag.NewInstanceTreeBuilder(b).BuildWorkflowInstanceTree(ctx, instance)
}

// GetStats counts running executions, executions waiting for or in a
// workflow task (by queue), and activity tasks not yet completed (by
// queue, running ones included).
func (b *Backend) GetStats(ctx context.Context) (*backend.Stats, error) {
	list, err := b.executions(ctx)
	if err != nil {
		return nil, err
	}
	st := &backend.Stats{PendingWorkflowTasks: map[workflow.Queue]int64{}, PendingActivityTasks: map[workflow.Queue]int64{}}
	for _, x := range list {
		if x.Snap.State != core.WorkflowInstanceStateActive {
			continue
		}
		st.ActiveWorkflowInstances++
		if x.Snap.Queued {
			st.PendingWorkflowTasks[workflow.Queue(x.Snap.Queue)]++
		}
	}
	stream, err := b.js.Stream(ctx, b.n.stream)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: stats: %w", err)
	}
	lister := stream.ListConsumers(ctx)
	for ci := range lister.Info() {
		q, ok := activityQueueOf(ci.Name)
		if !ok {
			continue
		}
		if n := int64(ci.NumPending) + int64(ci.NumAckPending); n > 0 {
			st.PendingActivityTasks[workflow.Queue(q)] = n
		}
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return nil, fmt.Errorf("jsbackend: stats: %w", err)
	}
	return st, nil
}

func activityQueueOf(consumer string) (string, bool) {
	const p = "act_"
	if len(consumer) <= len(p) || consumer[:len(p)] != p {
		return "", false
	}
	q, err := untok(consumer[len(p):])
	return q, err == nil
}

// GetFutureEvents returns the timers not yet fired: the schedules the
// server keeps.
func (b *Backend) GetFutureEvents(ctx context.Context) ([]*history.Event, error) {
	msgs, err := b.st.multiLast(ctx, []string{b.n.allSchedules()})
	if err != nil {
		return nil, err
	}
	var out []*history.Event
	for _, m := range msgs {
		if m.Header.Get("Nats-Schedule") == "" {
			continue // a cancelled timer
		}
		e, err := decodeEntry(m.Data)
		if err != nil {
			return nil, fmt.Errorf("jsbackend: bad timer at %d: %w", m.Seq, err)
		}
		out = append(out, e.Events...)
	}
	return out, nil
}
