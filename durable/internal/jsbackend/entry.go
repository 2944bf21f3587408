package jsbackend

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/backend/metadata"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/workflow"
)

// entry is the JSON body of every message the backend writes; which
// fields are set depends on the kind (see names).
type entry struct {
	Instance string `json:"i"`
	Exec     string `json:"x"`
	// Snap is the instance's state as of this message (kind m only).
	Snap *snapshot `json:"s,omitempty"`
	// Commit identifies the CompleteWorkflowTask call that wrote a commit,
	// so a retry after a lost reply recognises its own write.
	Commit string `json:"c,omitempty"`
	// Events, on a fired timer, is the event the server stored at the due
	// time (the body of its schedule).
	Events []*history.Event `json:"ev,omitempty"`
	// History is what a workflow task executed, in order, with sequence
	// IDs: the execution's history is the concatenation of its commits'.
	History []*history.Event `json:"h,omitempty"`
	// Activity is the activity task this message carries.
	Activity *activityTask `json:"a,omitempty"`
}

// activityTask is what an activity worker needs.
type activityTask struct {
	Instance      *core.WorkflowInstance `json:"wi"`
	Queue         string                 `json:"q"`
	WorkflowQueue string                 `json:"wq"`
	Event         *history.Event         `json:"e"`
}

// snapshot is an instance's state. Every snapshot-bearing message carries
// a whole one, so the last such message of an instance is its state and
// the last such message of an execution is that execution's.
type snapshot struct {
	// Instance is the current execution, with its parent if a sub-workflow.
	Instance    *core.WorkflowInstance     `json:"wi"`
	Queue       string                     `json:"q"`
	Name        string                     `json:"n,omitempty"`
	ParentQueue string                     `json:"pq,omitempty"`
	State       core.WorkflowInstanceState `json:"st"`
	CreatedAt   time.Time                  `json:"ca"`
	CompletedAt *time.Time                 `json:"co,omitempty"`
	Metadata    *metadata.WorkflowMetadata `json:"md,omitempty"`
	// LastSeqID is the sequence ID of the last event in the history.
	LastSeqID int64 `json:"ls,omitempty"`
	// Pending are the events not yet given to a workflow task, in order,
	// kept encoded: only a task decodes them, an append adds one without
	// touching the others.
	Pending []json.RawMessage `json:"p,omitempty"`
	// Activities are the IDs of the activities scheduled whose result has
	// not come yet, and Timers the schedule event IDs of the timers not yet
	// fired or cancelled: a second result, a second firing, is dropped.
	Activities []string `json:"oa,omitempty"`
	Timers     []int64  `json:"ot,omitempty"`
	// Queued: a workflow task is due or running. Its message is Task, or
	// this message if Task is 0.
	Queued bool   `json:"qd,omitempty"`
	Task   uint64 `json:"tk,omitempty"`
	// Start is the stream sequence of the execution's first message, or 0
	// for this message.
	Start uint64 `json:"sq,omitempty"`
	// LastCommit is the stream sequence of the execution's latest commit
	// before this message (0: none). In a commit it is the previous one:
	// the commits of an execution are a chain read backwards.
	LastCommit uint64 `json:"lc,omitempty"`
	// Terminated is the reason given to Terminate, if it ended the
	// execution.
	Terminated string `json:"tr,omitempty"`
	// Failed is the error an ended execution ended with, for listings
	// (the commit's history holds it whole).
	Failed *workflow.Error `json:"fe,omitempty"`
}

// resolve fills in the fields that refer to "this message" (0) with seq,
// the sequence of the message the snapshot was read from, so the snapshot
// can be copied into another message.
func (s *snapshot) resolve(seq uint64) {
	if s.Queued && s.Task == 0 {
		s.Task = seq
	}
	if s.Start == 0 {
		s.Start = seq
	}
}

// clone returns a copy that can be changed without touching s.
func (s *snapshot) clone() *snapshot {
	c := *s
	if s.CompletedAt != nil {
		t := *s.CompletedAt
		c.CompletedAt = &t
	}
	c.Pending = slices.Clone(s.Pending)
	c.Activities = slices.Clone(s.Activities)
	c.Timers = slices.Clone(s.Timers)
	return &c
}

func (s *snapshot) finished() bool {
	return s.State == core.WorkflowInstanceStateFinished || s.State == core.WorkflowInstanceStateContinuedAsNew
}

func decodeEntry(data []byte) (*entry, error) {
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// snapEntry is an entry read for its snapshot: the history and activity it
// may also carry are skipped, not decoded.
type snapEntry struct {
	Instance string    `json:"i"`
	Exec     string    `json:"x"`
	Snap     *snapshot `json:"s,omitempty"`
	Commit   string    `json:"c,omitempty"`
}

func decodeSnapEntry(data []byte) (*snapEntry, error) {
	var e snapEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// encodeEvents encodes events for a snapshot's pending list.
func encodeEvents(events []*history.Event) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(events))
	for i, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// decodeEvents decodes a snapshot's pending list.
func decodeEvents(raw []json.RawMessage) ([]*history.Event, error) {
	out := make([]*history.Event, len(raw))
	for i, r := range raw {
		var ev history.Event
		if err := json.Unmarshal(r, &ev); err != nil {
			return nil, err
		}
		out[i] = &ev
	}
	return out, nil
}
