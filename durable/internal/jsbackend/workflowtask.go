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
	msg      *nats.Msg // the delivery: the lease, heartbeated and acknowledged
	task     uint64    // the task's message (the delivery, or the append it caused)
	snapSeq  uint64    // the snapshot the task was built from
	v        *view     // the instance as the task read it
	consumed int       // how many of its pending events the task carries
}

// GetWorkflowTask returns the next workflow task of queues, or nil if none
// came before ctx ended. A delivery that is no longer an instance's
// current task (left by a crash) is acknowledged and skipped.
func (b *Backend) GetWorkflowTask(ctx context.Context, queues []workflow.Queue) (*backend.WorkflowTask, error) {
	qs := queueNames(queues)
	p, err := b.puller(true)
	if err != nil {
		return nil, err
	}
	for {
		m, err := p.get(ctx, qs)
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
	if ls.kind == "t" {
		return b.claimTimer(ctx, m, raw, ls)
	}
	v, err := b.loadViewSeen(ctx, ls.inst, raw, raw.Seq)
	if err != nil {
		return nil, err
	}
	if !v.currentTask(raw.Seq) || v.snap.Instance.ExecutionID != ls.exec {
		_ = m.Ack()
		return nil, nil
	}
	if len(v.snap.Pending) == 0 {
		// Queued with nothing to do: settle back to idle.
		if err := b.settle(ctx, v); err != nil && !errors.Is(err, errConflict) {
			return nil, err
		}
		_ = m.Ack()
		return nil, nil
	}
	return b.task(m, raw.Seq, v)
}

// claimTimer handles a fired timer: its event is added to the pending
// events of its execution (once: a repeat or a cancelled timer is
// dropped), and if the instance was idle the delivery becomes its task.
func (b *Backend) claimTimer(ctx context.Context, m *nats.Msg, raw *rawMsg, ls logSubject) (*backend.WorkflowTask, error) {
	e, err := decodeEntry(raw.Data)
	if err != nil || len(e.Events) == 0 {
		_ = m.Term()
		return nil, nil
	}
	r, err := b.appendEventsResult(ctx, ls.inst, ls.exec, e.Events, appendOpts{timer: e.Events[0].ScheduleEventID, takeTask: raw.Seq, seen: raw.Seq})
	if err != nil {
		return nil, err
	}
	if !r.took {
		_ = m.Ack()
		return nil, nil
	}
	v := &view{inst: ls.inst, snapSeq: r.seq, snap: r.snap, last: r.seq, latestCommit: r.snap.LastCommit}
	return b.task(m, raw.Seq, v)
}

// task is the workflow task of v, leased by m.
func (b *Backend) task(m *nats.Msg, task uint64, v *view) (*backend.WorkflowTask, error) {
	s := v.snap
	events, err := decodeEvents(s.Pending)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: instance %q: bad pending event: %w", v.inst, err)
	}
	return &backend.WorkflowTask{
		ID:                    strconv.FormatUint(task, 10),
		Queue:                 workflow.Queue(s.Queue),
		WorkflowInstance:      s.Instance,
		WorkflowInstanceState: s.State,
		Metadata:              s.Metadata,
		LastSequenceID:        s.LastSeqID,
		NewEvents:             events,
		CustomData:            &workflowTaskData{msg: m, task: task, snapSeq: v.snapSeq, v: v, consumed: len(s.Pending)},
	}, nil
}

// settle writes v's snapshot back as idle.
func (b *Backend) settle(ctx context.Context, v *view) error {
	s := v.next()
	s.Queued, s.Task = false, 0
	msg, err := b.casMsg(b.n.append(v.inst, s.Instance.ExecutionID, routeNone()), v.inst, v.last, &entry{
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

// TaskName is the orchestrator name of a workflow task this backend
// handed out ("" for another backend's), so a caller can count by name
// without reading the instance.
func TaskName(task *backend.WorkflowTask) string {
	if d, ok := task.CustomData.(*workflowTaskData); ok && d.v != nil && d.v.snap != nil {
		return d.v.snap.Name
	}
	return ""
}
