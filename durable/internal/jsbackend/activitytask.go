package jsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"
)

// GetActivityTask returns the next activity task of queues, or nil if none
// came before ctx ended. A task delivered again (its worker died, or lost
// its lease) is skipped if its instance has moved on or the activity's
// result is already in the log: a completed activity never runs twice.
func (b *Backend) GetActivityTask(ctx context.Context, queues []workflow.Queue) (*backend.ActivityTask, error) {
	qs := queueNames(queues)
	p, err := b.puller(false)
	if err != nil {
		return nil, err
	}
	for {
		m, err := p.get(ctx, qs)
		if err != nil || m == nil {
			return nil, err
		}
		t, err := b.claimActivityTask(ctx, m)
		if err != nil {
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

func (b *Backend) claimActivityTask(ctx context.Context, m *nats.Msg) (*backend.ActivityTask, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("jsbackend: activity task: %w", err)
	}
	// Only the activity: a commit that carries one also holds history.
	var e struct {
		Activity *activityTask `json:"a"`
	}
	if err := json.Unmarshal(m.Data, &e); err != nil || e.Activity == nil || e.Activity.Event == nil {
		_ = m.Term() // not an activity task: nothing will ever run it
		return nil, nil
	}
	a := e.Activity
	if md.NumDelivered > 1 {
		done, err := b.activityDone(ctx, a)
		if err != nil {
			return nil, err
		}
		if done {
			_ = m.Ack()
			return nil, nil
		}
	}
	id := strconv.FormatUint(md.Sequence.Stream, 10) + "." + strconv.FormatUint(md.NumDelivered, 10)
	b.mu.Lock()
	b.running[id] = &runningActivity{m: m, seq: md.Sequence.Stream, a: a, at: time.Now()}
	b.sweepLocked()
	b.mu.Unlock()
	return &backend.ActivityTask{
		ID:               id,
		ActivityID:       a.Event.ID,
		Queue:            workflow.Queue(a.Queue),
		WorkflowInstance: a.Instance,
		Event:            a.Event,
	}, nil
}

// activityDone reports whether a redelivered activity need not run: its
// execution is no longer running, or its result is in already.
func (b *Backend) activityDone(ctx context.Context, a *activityTask) (bool, error) {
	s, _, _, err := b.execSnapshot(ctx, a.Instance)
	if errors.Is(err, backend.ErrInstanceNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return s.finished() || !slices.Contains(s.Activities, a.Event.ID), nil
}

// sweepLocked forgets activity tasks handed out long ago and never
// completed (a worker that gave up on one after its heartbeat failed):
// their leases have run out and another worker has them.
func (b *Backend) sweepLocked() {
	if len(b.running) < 1024 {
		return
	}
	cutoff := time.Now().Add(-2 * b.bopts.ActivityLockTimeout)
	for id, r := range b.running {
		if r.at.Before(cutoff) {
			delete(b.running, id)
		}
	}
}

func (b *Backend) runningActivity(id string) *runningActivity {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running[id]
}

// ExtendActivityTask renews the task's lease.
func (b *Backend) ExtendActivityTask(_ context.Context, task *backend.ActivityTask) error {
	r := b.runningActivity(task.ID)
	if r == nil {
		return fmt.Errorf("jsbackend: activity task %s is not running here", task.ID)
	}
	return r.m.InProgress()
}

// CompleteActivityTask adds the activity's result to its execution's
// pending events and acknowledges the task. The result is accepted only
// while the execution awaits it (its snapshot lists the activity), so a
// second result (a redelivered task that ran again after a crash before
// the acknowledgement, or after its lease ran out) is dropped.
func (b *Backend) CompleteActivityTask(ctx context.Context, task *backend.ActivityTask, result *history.Event) error {
	r := b.runningActivity(task.ID)
	if r == nil {
		return errors.New("jsbackend: the activity task is not running here (not fetched by this backend, or already completed)")
	}
	inst := task.WorkflowInstance
	nameFailure(result, activityName(r.a.Event))
	opts := appendOpts{msgID: "a." + task.ActivityID, activity: task.ActivityID, seen: r.seq}
	err := b.appendEvents(ctx, inst.InstanceID, inst.ExecutionID, []*history.Event{result}, opts)
	if errors.Is(err, errTooLarge) {
		// The result cannot be stored: the workflow gets a failure that
		// says why, instead of the activity running again forever.
		result = history.NewPendingEvent(time.Now(), history.EventType_ActivityFailed, &history.ActivityFailedAttributes{
			Error: tooLargeError(fmt.Sprintf("the result of activity %s", activityName(r.a.Event)), err),
		}, history.ScheduleEventID(result.ScheduleEventID))
		err = b.appendEvents(ctx, inst.InstanceID, inst.ExecutionID, []*history.Event{result}, opts)
	}
	if err != nil {
		return err
	}
	_ = r.m.Ack()
	b.mu.Lock()
	delete(b.running, task.ID)
	b.mu.Unlock()
	return nil
}

func activityName(ev *history.Event) string {
	if a, ok := ev.Attributes.(*history.ActivityScheduledAttributes); ok {
		return a.Name
	}
	return "?"
}

// tooLargeError is a workflow error for a payload the server refused.
func tooLargeError(what string, err error) *workflow.Error {
	werr, _ := workflow.NewPermanentError(fmt.Errorf("%s is too large to store: %w", what, err)).(*workflow.Error)
	return werr
}

// nameFailure puts the activity's name into go-workflows' own failures of
// a worker that could not run it ("activity not found: activity not
// found"), which do not say which activity: the orchestrator's error then
// names what is missing or wrong.
func nameFailure(result *history.Event, name string) {
	a, ok := result.Attributes.(*history.ActivityFailedAttributes)
	if !ok || a.Error == nil {
		return
	}
	switch m := a.Error.Message; {
	case strings.HasPrefix(m, "activity not found"):
		a.Error.Message = fmt.Sprintf("activity %q is not registered in the worker that took its task (%s)", name, m)
	case strings.HasPrefix(m, "converting activity inputs"), strings.HasPrefix(m, "activity not a function"),
		strings.HasPrefix(m, "mismatched argument count"):
		a.Error.Message = fmt.Sprintf("activity %q: %s", name, m)
	}
}
