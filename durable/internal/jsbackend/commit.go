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
	"github.com/nats-io/nats.go"
)

// errLost: the task's instance moved on without it (its lease expired and
// another worker completed it, or it was terminated).
var errLost = errors.New("jsbackend: the workflow task is no longer the instance's current task")

// completion is one CompleteWorkflowTask call's input.
type completion struct {
	task       *backend.WorkflowTask
	d          *workflowTaskData
	state      core.WorkflowInstanceState
	executed   []*history.Event
	activities []*history.Event
	timers     []*history.Event
	events     []*history.WorkflowEvent
	id         string // identifies this call's commit
}

// CompleteWorkflowTask checkpoints a workflow task in one write: the
// executed events (history), the new snapshot (state, cursor, queue
// state), and the task's effects (activity tasks, timer schedules and
// cancellations, events to and starts of other instances) are one message
// or one atomic batch, stored only if the instance's log still ends where
// the task read it. A crash before the write leaves the old state (the
// task is delivered again after its lease); after it, the new one.
func (b *Backend) CompleteWorkflowTask(
	ctx context.Context, task *backend.WorkflowTask, state core.WorkflowInstanceState,
	executedEvents, activityEvents, timerEvents []*history.Event, workflowEvents []*history.WorkflowEvent,
) error {
	d, ok := task.CustomData.(*workflowTaskData)
	if !ok {
		return errors.New("jsbackend: not a task of this backend")
	}
	c := &completion{task: task, d: d, state: state, executed: executedEvents, activities: activityEvents,
		timers: timerEvents, events: workflowEvents, id: newID()}
	inst := task.WorkflowInstance.InstanceID
	expect, queued := d.last, false
	for attempt := 0; ; attempt++ {
		msgs, err := b.buildCommit(ctx, c, expect, queued)
		if err != nil {
			return err
		}
		_, err = b.st.publishBatch(ctx, msgs)
		if err == nil {
			break
		}
		if errors.Is(err, errTooLarge) || attempt >= maxAttempts {
			return fmt.Errorf("jsbackend: complete workflow task of %q: %w", inst, err)
		}
		// Lost a race, or no answer: see what the log holds now.
		later, rerr := b.st.scan(ctx, b.n.log(inst), expect+1)
		if rerr != nil {
			return fmt.Errorf("jsbackend: complete workflow task of %q: %w (then: %v)", inst, err, rerr)
		}
		mine := false
	scan:
		for _, m := range later {
			expect = max(expect, m.Seq)
			ls, perr := b.n.parse(m.Subject)
			if perr != nil {
				continue
			}
			switch {
			case ls.kind == "m":
				e, derr := decodeEntry(m.Data)
				if derr == nil && e.Commit == c.id {
					mine = true
					break scan
				}
				_ = d.msg.Ack()
				return fmt.Errorf("jsbackend: complete workflow task of %q: %w", inst, errLost)
			case ls.kind == "v" && ls.exec == task.WorkflowInstance.ExecutionID:
				queued = true // events came in meanwhile: stay queued for them
			}
		}
		if mine {
			break
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	_ = d.msg.Ack()
	if state == core.WorkflowInstanceStateContinuedAsNew && b.bopts.RemoveContinuedAsNewInstances {
		if err := b.purge(ctx, task.WorkflowInstance); err != nil {
			b.bopts.Logger.Warn("jsbackend: removing a continued-as-new execution", "instance", inst, "err", err)
		}
	}
	return nil
}

// buildCommit returns the messages of a commit whose instance log ends at
// expect. queued: events arrived after the task read its own, so the
// commit stays the instance's current task.
func (b *Backend) buildCommit(ctx context.Context, c *completion, expect uint64, queued bool) ([]*nats.Msg, error) {
	wi := c.task.WorkflowInstance
	inst, exec := wi.InstanceID, wi.ExecutionID
	s := c.d.snap.clone()
	s.Cursor = c.d.cursor
	if n := len(c.executed); n > 0 {
		s.LastSeqID = c.executed[n-1].SequenceID
	}
	s.State = c.state
	finished := s.finished()
	if finished {
		now := time.Now().UTC()
		s.CompletedAt = &now
		queued = false
	}
	s.Queued, s.Task = queued, 0

	acts := make([]*activityTask, 0, len(c.activities))
	for _, ev := range c.activities {
		a, ok := ev.Attributes.(*history.ActivityScheduledAttributes)
		if !ok {
			return nil, fmt.Errorf("jsbackend: %q scheduled an activity event of type %v", inst, ev.Type)
		}
		q := string(a.Queue)
		if q == "" {
			q = s.Queue
		}
		acts = append(acts, &activityTask{Instance: wi, Queue: q, WorkflowQueue: s.Queue, Event: ev})
	}

	commit := &entry{Instance: inst, Exec: exec, Snap: s, Commit: c.id, History: c.executed}
	route := routeNone()
	switch {
	case queued:
		route = routeTask(s.Queue)
	case len(acts) == 1:
		// The common step of a workflow: the commit is its activity's task.
		route, commit.Activity = routeActivity(acts[0].Queue), acts[0]
		acts = nil
	}
	first, err := b.casMsg(b.n.commit(inst, exec, route), inst, expect, commit)
	if err != nil {
		return nil, err
	}
	msgs := []*nats.Msg{first}

	for _, a := range acts {
		m, err := b.plainMsg(b.n.activity(inst, exec, a.Queue), &entry{Instance: inst, Exec: exec, Activity: a})
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	for _, ev := range c.timers {
		m, err := b.timerMsg(wi, s.Queue, ev)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	for _, ev := range c.executed {
		if ev.Type == history.EventType_TimerCanceled {
			msgs = append(msgs, b.cancelTimerMsg(wi, ev.ScheduleEventID))
		}
	}
	others, err := b.workflowEventMsgs(ctx, c, s, expect)
	if err != nil {
		return nil, err
	}
	return append(msgs, others...), nil
}

// workflowEventMsgs turns the events a task sends to workflow instances
// into messages: the start of a new execution (ContinueAsNew), of a child
// (a compare-and-set on its log, or a failure event back to this instance
// if it already runs), and events to running executions.
func (b *Backend) workflowEventMsgs(ctx context.Context, c *completion, s *snapshot, expect uint64) ([]*nats.Msg, error) {
	wi := c.task.WorkflowInstance
	inst, exec := wi.InstanceID, wi.ExecutionID
	type target struct{ inst, exec string }
	var order []target
	groups := map[target][]*history.WorkflowEvent{}
	for _, we := range c.events {
		t := target{we.WorkflowInstance.InstanceID, we.WorkflowInstance.ExecutionID}
		if _, ok := groups[t]; !ok {
			order = append(order, t)
		}
		groups[t] = append(groups[t], we)
	}
	var msgs []*nats.Msg
	starting := map[string]bool{} // instance IDs started in this batch
	self := func(ev *history.Event) error {
		m, err := b.plainMsg(b.n.event(inst, exec, s.Queue), &entry{Instance: inst, Exec: exec, Events: []*history.Event{ev}})
		if err == nil {
			msgs = append(msgs, m)
		}
		return err
	}
	for _, t := range order {
		g := groups[t]
		target := g[0].WorkflowInstance
		events := make([]*history.Event, len(g))
		for i, we := range g {
			events[i] = we.HistoryEvent
		}
		if events[0].Type == history.EventType_WorkflowExecutionStarted {
			a, ok := events[0].Attributes.(*history.ExecutionStartedAttributes)
			if !ok {
				return nil, fmt.Errorf("jsbackend: %q started %q with an event of type %v", inst, t.inst, events[0].Type)
			}
			q := string(a.Queue)
			if q == "" {
				q = s.Queue
			}
			if t.inst == inst {
				// ContinueAsNew: the next execution, in this log, after the commit.
				ns := newSnapshot(target, q, a, expect)
				ns.ParentQueue = s.ParentQueue
				m, err := b.plainMsg(b.n.start(inst, t.exec, q), &entry{Instance: inst, Exec: t.exec, Snap: ns, Events: events})
				if err != nil {
					return nil, err
				}
				msgs = append(msgs, m)
				starting[inst] = true
				continue
			}
			cexpect, csnap, err := b.latest(ctx, t.inst)
			if err != nil {
				return nil, err
			}
			if starting[t.inst] || csnap != nil && csnap.State == core.WorkflowInstanceStateActive {
				werr, _ := workflow.NewError(backend.ErrInstanceAlreadyExists).(*workflow.Error)
				if err := self(history.NewPendingEvent(time.Now(), history.EventType_SubWorkflowFailed,
					&history.SubWorkflowFailedAttributes{Error: werr}, history.ScheduleEventID(target.ParentEventID))); err != nil {
					return nil, err
				}
				continue
			}
			ns := newSnapshot(target, q, a, cexpect)
			ns.ParentQueue = s.Queue
			m, err := b.casMsg(b.n.start(t.inst, t.exec, q), t.inst, cexpect, &entry{Instance: t.inst, Exec: t.exec, Snap: ns, Events: events})
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
			starting[t.inst] = true
			continue
		}
		if t.inst == inst && t.exec == exec {
			for _, ev := range events {
				if err := self(ev); err != nil {
					return nil, err
				}
			}
			continue
		}
		ts, _, _, err := b.execSnapshot(ctx, target)
		if errors.Is(err, backend.ErrInstanceNotFound) {
			continue // gone: nobody to tell
		}
		if err != nil {
			return nil, err
		}
		if ts.State != core.WorkflowInstanceStateActive {
			continue
		}
		for _, ev := range events {
			m, err := b.plainMsg(b.n.event(t.inst, t.exec, ts.Queue), &entry{Instance: t.inst, Exec: t.exec, Events: []*history.Event{ev}})
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
		}
	}
	return msgs, nil
}

// timerMsg is a timer's schedule: the server itself publishes the fired
// event into the execution's log at the due time, so timers need no
// process of ours to keep them and survive every restart.
func (b *Backend) timerMsg(wi *core.WorkflowInstance, queue string, ev *history.Event) (*nats.Msg, error) {
	inst, exec := wi.InstanceID, wi.ExecutionID
	m, err := b.plainMsg(b.n.schedule(inst, exec, ev.ScheduleEventID), &entry{Instance: inst, Exec: exec, Events: []*history.Event{ev}})
	if err != nil {
		return nil, err
	}
	at := time.Now()
	if ev.VisibleAt != nil {
		at = *ev.VisibleAt
	}
	m.Header.Set("Nats-Schedule", "@at "+at.UTC().Format(time.RFC3339Nano))
	m.Header.Set("Nats-Schedule-Target", b.n.event(inst, exec, queue))
	return m, nil
}

// cancelTimerMsg replaces a timer's schedule with an empty message (a
// subject rollup), which the server does not fire.
func (b *Backend) cancelTimerMsg(wi *core.WorkflowInstance, scheduleEventID int64) *nats.Msg {
	m := nats.NewMsg(b.n.schedule(wi.InstanceID, wi.ExecutionID, scheduleEventID))
	m.Header.Set("Nats-Rollup", "sub")
	return m
}
