package jsbackend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"
)

// ErrLost: a workflow task's instance moved on without it (its lease
// expired and another worker completed it, or it was terminated).
var ErrLost = errors.New("jsbackend: the workflow task is no longer the instance's current task")

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
// executed events (history), the new snapshot (state, the events still
// pending, queue state), and the task's effects (activity tasks, timer
// schedules and cancellations, events to other instances, the start of a
// child or of the next execution, each itself a compare-and-set on the
// other instance's log) go in one message or, when there is more than
// one, in one JetStream atomic batch, stored only if the instance's log
// still ends where the task read it. A crash before the write leaves the
// old state (the task is delivered again after its lease); after it, the
// new one.
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
	v := d.v
	for attempt := 0; ; attempt++ {
		msgs, err := b.buildCommit(ctx, c, v)
		if err != nil {
			return err
		}
		_, err = b.st.publishBatch(ctx, msgs)
		if err == nil {
			break
		}
		if errors.Is(err, errTooLarge) {
			// What the task wrote cannot be stored: retried, it would fail
			// the same way for ever. The execution fails instead, saying why.
			return b.failTooLarge(ctx, c, v, err)
		}
		if attempt >= maxAttempts {
			return fmt.Errorf("jsbackend: complete workflow task of %q: %w", inst, err)
		}
		// Lost a race (events came in), or no answer: read the log again.
		nv, mine, rerr := b.afterConflict(ctx, c)
		if rerr != nil {
			if errors.Is(rerr, ErrLost) {
				_ = d.msg.Ack()
				if b.opts.OnLost != nil {
					b.opts.OnLost(task.WorkflowInstance)
				}
			}
			return fmt.Errorf("jsbackend: complete workflow task of %q: %w (after: %v)", inst, rerr, err)
		}
		if mine {
			break
		}
		v = nv
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

// afterConflict reads the instance again after a commit failed: mine if
// the commit was stored after all (its answer was lost), ErrLost if the
// instance moved on (another commit, a termination), otherwise the view to
// build the commit on (events were added meanwhile).
func (b *Backend) afterConflict(ctx context.Context, c *completion) (*view, bool, error) {
	wi := c.task.WorkflowInstance
	v, err := b.loadView(ctx, wi.InstanceID, nil)
	if err != nil {
		return nil, false, err
	}
	if v.snap == nil {
		return nil, false, ErrLost // removed
	}
	if v.entry.Commit == c.id {
		return nil, true, nil
	}
	// Another commit, not just events added, or a task that is no longer
	// current: the instance moved on.
	if v.snapSeq != c.d.snapSeq && v.commit || !v.currentTask(c.d.task) || v.snap.Instance.ExecutionID != wi.ExecutionID {
		return nil, false, ErrLost
	}
	return v, false, nil
}

// buildCommit returns the messages of a commit on top of v.
func (b *Backend) buildCommit(ctx context.Context, c *completion, v *view) ([]*nats.Msg, error) {
	wi := c.task.WorkflowInstance
	inst, exec := wi.InstanceID, wi.ExecutionID
	s := v.next()
	// Events added after the task read its own stay pending.
	s.Pending = slices.Clone(s.Pending[min(c.d.consumed, len(s.Pending)):])
	if n := len(c.executed); n > 0 {
		s.LastSeqID = c.executed[n-1].SequenceID
	}
	s.State = c.state

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
		s.Activities = append(s.Activities, ev.ID)
	}
	for _, ev := range c.timers {
		s.Timers = append(s.Timers, ev.ScheduleEventID)
	}
	for _, ev := range c.executed {
		if ev.Type == history.EventType_TimerCanceled {
			s.Timers, _ = remove(s.Timers, ev.ScheduleEventID)
		}
	}

	others, selfEvents, err := b.workflowEventMsgs(ctx, c, s)
	if err != nil {
		return nil, err
	}
	raw, err := encodeEvents(selfEvents)
	if err != nil {
		return nil, err
	}
	s.Pending = append(s.Pending, raw...)

	if s.finished() {
		now := time.Now().UTC()
		s.CompletedAt = &now
		s.Pending, s.Activities, s.Timers = nil, nil, nil
		for _, ev := range c.executed {
			if a, ok := ev.Attributes.(*history.ExecutionCompletedAttributes); ok && a.Error != nil {
				s.Failed = a.Error
			}
		}
	}
	s.Queued, s.Task = !s.finished() && len(s.Pending) > 0, 0

	commit := &entry{Instance: inst, Exec: exec, Snap: s, Commit: c.id, History: c.executed}
	route := routeNone()
	switch {
	case s.Queued:
		route = routeTask(s.Queue)
	case len(acts) == 1:
		// The usual step of a workflow: the commit is its activity's task.
		route, commit.Activity = routeActivity(acts[0].Queue), acts[0]
		acts = nil
	}
	first, err := b.casMsg(b.n.commit(inst, exec, route), inst, v.last, commit)
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
	return append(msgs, others...), nil
}

// workflowEventMsgs turns the events a task sends to workflow instances
// into messages: the start of the next execution (ContinueAsNew), of a
// child (a compare-and-set on its log), and events added to running
// executions (a compare-and-set each). Events for this execution itself
// (a child that could not start because one with its ID runs) are
// returned to go into its own snapshot.
func (b *Backend) workflowEventMsgs(ctx context.Context, c *completion, s *snapshot) ([]*nats.Msg, []*history.Event, error) {
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
	var self []*history.Event
	starting := map[string]bool{} // instance IDs started in this batch
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
				return nil, nil, fmt.Errorf("jsbackend: %q started %q with an event of type %v", inst, t.inst, events[0].Type)
			}
			q := string(a.Queue)
			if q == "" {
				q = s.Queue
			}
			ns, err := newSnapshot(target, q, a, events)
			if err != nil {
				return nil, nil, err
			}
			if t.inst == inst {
				// ContinueAsNew: the next execution, in this log, after the commit.
				ns.ParentQueue = s.ParentQueue
				m, err := b.plainMsg(b.n.start(inst, t.exec, q), &entry{Instance: inst, Exec: t.exec, Snap: ns, Commit: c.id})
				if err != nil {
					return nil, nil, err
				}
				msgs = append(msgs, m)
				starting[inst] = true
				continue
			}
			cv, err := b.loadView(ctx, t.inst, nil)
			if err != nil {
				return nil, nil, err
			}
			if starting[t.inst] || cv.active("") {
				werr, _ := workflow.NewError(backend.ErrInstanceAlreadyExists).(*workflow.Error)
				self = append(self, history.NewPendingEvent(time.Now(), history.EventType_SubWorkflowFailed,
					&history.SubWorkflowFailedAttributes{Error: werr}, history.ScheduleEventID(target.ParentEventID)))
				continue
			}
			ns.ParentQueue = s.Queue
			m, err := b.casMsg(b.n.start(t.inst, t.exec, q), t.inst, cv.last, &entry{Instance: t.inst, Exec: t.exec, Snap: ns})
			if err != nil {
				return nil, nil, err
			}
			msgs = append(msgs, m)
			starting[t.inst] = true
			continue
		}
		if t.inst == inst && t.exec == exec {
			self = append(self, events...)
			continue
		}
		tv, err := b.loadView(ctx, t.inst, nil)
		if err != nil {
			return nil, nil, err
		}
		m, _, _, err := b.appendMsg(tv, t.exec, events, appendOpts{})
		if err != nil {
			return nil, nil, err
		}
		if m != nil { // nil: the target is gone or done, nobody to tell
			msgs = append(msgs, m)
		}
	}
	return msgs, self, nil
}

// timerMsg is a timer's schedule: the server itself stores the fired
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
	m.Header.Set("Nats-Schedule-Target", b.n.fired(inst, exec, queue))
	return m, nil
}

// cancelTimerMsg replaces a timer's schedule with an empty message (a
// subject rollup), which the server does not fire.
func (b *Backend) cancelTimerMsg(wi *core.WorkflowInstance, scheduleEventID int64) *nats.Msg {
	m := nats.NewMsg(b.n.schedule(wi.InstanceID, wi.ExecutionID, scheduleEventID))
	m.Header.Set("Nats-Rollup", "sub")
	return m
}

// failTooLarge ends the task's execution with a failure saying that what
// it produced (an input to an activity or a child, a result, an event) is
// larger than the server stores.
func (b *Backend) failTooLarge(ctx context.Context, c *completion, v *view, cause error) error {
	inst := c.task.WorkflowInstance.InstanceID
	werr := &workflow.Error{Type: "PayloadTooLarge", Permanent: true,
		Message: fmt.Sprintf("workflow task of %q produced a message the server cannot store (an activity or child input, a result or an event too large): %v", inst, cause)}
	for attempt := 0; ; attempt++ {
		msgs, err := b.endMsgs(ctx, v, werr, "", c.id)
		if err == nil {
			_, err = b.st.publishBatch(ctx, msgs)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, errConflict) || attempt >= maxAttempts {
			return fmt.Errorf("jsbackend: complete workflow task of %q: %w (failing it: %v)", inst, cause, err)
		}
		nv, mine, rerr := b.afterConflict(ctx, c)
		if rerr != nil || mine {
			return rerr
		}
		v = nv
	}
	_ = c.d.msg.Ack()
	if b.opts.OnLost != nil {
		b.opts.OnLost(c.task.WorkflowInstance) // its executor ran ahead of the failure
	}
	return nil
}
