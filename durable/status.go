package durable

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cschleiden/go-workflows/core"

	"github.com/cloudrole/cloudrole/durable/internal/jsbackend"
)

// RuntimeStatus is an orchestration instance's state, named as Durable
// Functions names its runtimeStatus.
type RuntimeStatus string

const (
	// Pending: started, and no orchestrator task has run yet.
	Pending RuntimeStatus = "Pending"
	// Running: its orchestrator has run and has more to do (it waits for
	// an activity, a timer, an event or a sub-orchestration).
	Running RuntimeStatus = "Running"
	// Completed: its orchestrator returned without an error.
	Completed RuntimeStatus = "Completed"
	// ContinuedAsNew: this execution ended with ContinueAsNew and the
	// instance goes on as a new execution (an instance's status is its
	// latest execution's, so it shows Pending or Running).
	ContinuedAsNew RuntimeStatus = "ContinuedAsNew"
	// Failed: its orchestrator returned an error (or could not run: an
	// unknown name, inputs that do not decode, a non-deterministic
	// replay); Status.Failure says why.
	Failed RuntimeStatus = "Failed"
	// Terminated: Terminate ended it; Status.Failure has the reason.
	Terminated RuntimeStatus = "Terminated"
)

// Durable Functions' Canceled and Suspended are not used: go-workflows
// has no suspension, and a cancelled orchestration ends as its
// orchestrator decides (Completed or Failed).

var runtimeStatuses = []RuntimeStatus{Pending, Running, Completed, ContinuedAsNew, Failed, Terminated}

// ParseRuntimeStatus reads a runtimeStatus name (any case), failing with
// ErrInvalidOptions and the valid names.
func ParseRuntimeStatus(s string) (RuntimeStatus, error) {
	names := make([]string, len(runtimeStatuses))
	for i, rs := range runtimeStatuses {
		if strings.EqualFold(s, string(rs)) {
			return rs, nil
		}
		names[i] = string(rs)
	}
	return "", fmt.Errorf("%w: runtimeStatus %q: want one of %s", ErrInvalidOptions, s, strings.Join(names, ", "))
}

// terminal reports whether s is an end: the instance runs no more.
func (s RuntimeStatus) terminal() bool {
	return s == Completed || s == Failed || s == Terminated
}

// Status is an orchestration instance as Durable Functions' status query
// reports it (the JSON field names are its).
type Status struct {
	InstanceID    string        `json:"instanceId"`
	ExecutionID   string        `json:"executionId"`
	Name          string        `json:"name"`
	RuntimeStatus RuntimeStatus `json:"runtimeStatus"`
	Queue         string        `json:"queue"`
	// Input is the orchestrator's input as JSON: the one argument, or an
	// array when it takes several; absent when it takes none.
	Input json.RawMessage `json:"input,omitempty"`
	// Output is its result as JSON, once Completed.
	Output json.RawMessage `json:"output,omitempty"`
	// Failure is why it Failed, or the reason it was Terminated.
	Failure         *Failure  `json:"failure,omitempty"`
	CreatedTime     time.Time `json:"createdTime"`
	LastUpdatedTime time.Time `json:"lastUpdatedTime"`
	// ParentInstanceID is the orchestration that started this one as a
	// sub-orchestration.
	ParentInstanceID string `json:"parentInstanceId,omitempty"`
}

// Failure is an orchestration's error.
type Failure struct {
	Type    string `json:"type,omitempty"`
	Message string `json:"message"`
}

func statusOf(d *jsbackend.Instance) *Status {
	s := &Status{
		InstanceID:      d.Instance.InstanceID,
		ExecutionID:     d.Instance.ExecutionID,
		Name:            d.Name,
		Queue:           d.Queue,
		CreatedTime:     d.CreatedAt,
		LastUpdatedTime: d.UpdatedAt,
	}
	if d.Instance.Parent != nil {
		s.ParentInstanceID = d.Instance.Parent.InstanceID
	}
	switch len(d.Inputs) {
	case 0:
	case 1:
		s.Input = json.RawMessage(d.Inputs[0])
	default:
		parts := make([]json.RawMessage, len(d.Inputs))
		for i, p := range d.Inputs {
			parts[i] = json.RawMessage(p)
		}
		s.Input, _ = json.Marshal(parts)
	}
	switch {
	case d.State == core.WorkflowInstanceStateActive && !d.Started:
		s.RuntimeStatus = Pending
	case d.State == core.WorkflowInstanceStateActive:
		s.RuntimeStatus = Running
	case d.State == core.WorkflowInstanceStateContinuedAsNew:
		s.RuntimeStatus = ContinuedAsNew
	case d.Terminated != "":
		s.RuntimeStatus = Terminated
		s.Failure = &Failure{Type: jsbackend.TerminatedType, Message: d.Terminated}
	case d.Error != nil:
		s.RuntimeStatus = Failed
		s.Failure = &Failure{Type: d.Error.Type, Message: d.Error.Message}
	default:
		s.RuntimeStatus = Completed
		if len(d.Result) > 0 {
			s.Output = json.RawMessage(d.Result)
		}
	}
	return s
}
