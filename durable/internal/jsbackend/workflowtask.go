package jsbackend

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"
)

// workflowTaskData is what CompleteWorkflowTask needs of a task it handed
// out (backend.WorkflowTask.CustomData).
type workflowTaskData struct {
	msg     *nats.Msg // the delivery: the lease, heartbeated and acknowledged
	msgSeq  uint64
	snapSeq uint64    // the snapshot the task was built from
	snap    *snapshot // a copy of it
	last    uint64    // the end of the log when the task was built
	cursor  uint64    // the last event the task carries
}

// GetWorkflowTask returns the next workflow task of queues, or nil if none
// came before ctx ended. A delivery that is no longer an instance's
// current task (left by a crash, or an event that a running task will
// pick up) is acknowledged and skipped.
func (b *Backend) GetWorkflowTask(ctx context.Context, queues []workflow.Queue) (*backend.WorkflowTask, error) {
	qs := queueNames(queues)
	for {
		m, err := b.workflows.get(ctx, qs)
		if err != nil || m == nil {
			return nil, err
		}
		t, err := b.claimWorkflowTask(ctx, m)
		if err != nil {
			// Let another worker (or this one, later) try again.
			_ = m.Nak()
			return nil, err
		}
		if t != nil {
			return t, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
	}
}

func (b *Backend) claimWorkflowTask(ctx context.Context, m *nats.Msg) (*backend.WorkflowTask, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("jsbackend: workflow task: %w", err)
	}
	ls, err := b.n.parse(m.Subject)
	if err != nil {
		_ = m.Ack() // not ours: nothing can handle it
		return nil, nil
	}
	raw := &rawMsg{Seq: md.Sequence.Stream, Subject: m.Subject, Header: m.Header, Data: m.Data}
	var hint *rawMsg
	if ls.kind == "m" {
		hint = raw
	}
	v, err := b.loadView(ctx, ls.inst, hint)
	if err != nil {
		return nil, err
	}
	current, err := b.currentTask(v, raw.Seq)
	if err != nil {
		return nil, err
	}
	if !current || v.snap.Instance.ExecutionID != ls.exec {
		_ = m.Ack()
		return nil, nil
	}
	p, err := b.pendingEvents(v)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		// Queued with nothing to do: settle back to idle.
		if err := b.settle(ctx, v); err != nil && !errors.Is(err, errConflict) {
			return nil, err
		}
		_ = m.Ack()
		return nil, nil
	}
	s := v.snap.clone()
	return &backend.WorkflowTask{
		ID:                    strconv.FormatUint(raw.Seq, 10),
		Queue:                 workflow.Queue(s.Queue),
		WorkflowInstance:      s.Instance,
		WorkflowInstanceState: s.State,
		Metadata:              s.Metadata,
		LastSequenceID:        s.LastSeqID,
		NewEvents:             eventsOf(p),
		CustomData: &workflowTaskData{
			msg:     m,
			msgSeq:  raw.Seq,
			snapSeq: v.snapSeq,
			snap:    s,
			last:    v.last,
			cursor:  p[len(p)-1].seq,
		},
	}, nil
}

// settle writes v's snapshot back as idle.
func (b *Backend) settle(ctx context.Context, v *view) error {
	s := v.snap.clone()
	s.Queued, s.Task = false, 0
	msg, err := b.casMsg(b.n.commit(v.inst, s.Instance.ExecutionID, routeNone()), v.inst, v.last, &entry{
		Instance: v.inst, Exec: s.Instance.ExecutionID, Snap: s,
	})
	if err != nil {
		return err
	}
	_, err = b.st.publish(ctx, msg)
	return err
}

// ExtendWorkflowTask renews the task's lease.
func (b *Backend) ExtendWorkflowTask(_ context.Context, task *backend.WorkflowTask) error {
	d, ok := task.CustomData.(*workflowTaskData)
	if !ok {
		return errors.New("jsbackend: not a task of this backend")
	}
	return d.msg.InProgress()
}
