package durable

import (
	"context"
	"fmt"
	"time"

	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"
)

// HistoryEvent is one event of an execution's history, as an operator
// reads it: what happened, when, and the few words that say to what.
type HistoryEvent struct {
	// Seq is the event's sequence number in the execution (from 1).
	Seq int64 `json:"seq"`
	// Type is go-workflows' name of the event type
	// ("WorkflowExecutionStarted", "ActivityScheduled", "SignalReceived",
	// "TimerFired", ...).
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Summary names what the event concerns: the orchestrator or
	// activity, the event's name, a timer's due time, an error's message.
	// Inputs and results are left out (Status has the instance's own).
	Summary string `json:"summary,omitempty"`
}

// History returns the history of the instance's latest execution, oldest
// first: the events its orchestrator tasks have recorded (an event raised
// and not yet handled by a task is not in it yet). It fails with
// ErrNotFound for an unknown instance. It reads the execution's commits,
// one request each: an operator's view, not a hot path.
func (h *Hub) History(ctx context.Context, instanceID string) ([]HistoryEvent, error) {
	d, err := h.b.Describe(ctx, instanceID)
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("history %q", instanceID), err)
	}
	evs, err := h.b.GetWorkflowInstanceHistory(ctx, core.NewWorkflowInstance(instanceID, d.Instance.ExecutionID), nil)
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("history %q", instanceID), err)
	}
	out := make([]HistoryEvent, len(evs))
	for i, ev := range evs {
		out[i] = HistoryEvent{Seq: ev.SequenceID, Type: ev.Type.String(), Time: ev.Timestamp, Summary: summary(ev)}
	}
	return out, nil
}

// summary is the short text of an event: names and messages, never a
// payload (an input may be large, or private).
func summary(ev *history.Event) string {
	switch a := ev.Attributes.(type) {
	case *history.ExecutionStartedAttributes:
		return a.Name + " on queue " + string(a.Queue)
	case *history.ExecutionCompletedAttributes:
		if a.Error != nil {
			return "failed: " + a.Error.Message
		}
		return "completed"
	case *history.ExecutionContinuedAsNewAttributes:
		return "continued as execution " + a.ContinuedExecutionID
	case *history.ActivityScheduledAttributes:
		if a.Attempt > 0 {
			return fmt.Sprintf("%s (attempt %d)", a.Name, a.Attempt+1)
		}
		return a.Name
	case *history.ActivityFailedAttributes:
		if a.Error != nil {
			return a.Error.Message
		}
	case *history.SubWorkflowScheduledAttributes:
		if a.SubWorkflowInstance != nil {
			return a.Name + " as " + a.SubWorkflowInstance.InstanceID
		}
		return a.Name
	case *history.SubWorkflowFailedAttributes:
		if a.Error != nil {
			return a.Error.Message
		}
	case *history.TimerScheduledAttributes:
		return timerText(a.Name, a.At)
	case *history.TimerFiredAttributes:
		return timerText(a.Name, a.At)
	case *history.SignalReceivedAttributes:
		return a.Name
	}
	if ev.ScheduleEventID > 0 {
		return fmt.Sprintf("of event %d", ev.ScheduleEventID)
	}
	return ""
}

func timerText(name string, at time.Time) string {
	s := "due " + at.UTC().Format("2006-01-02 15:04:05Z")
	if name != "" {
		s = name + ", " + s
	}
	return s
}
