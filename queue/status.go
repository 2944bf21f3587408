package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// State is a job's state in its status record.
type State string

// Job states, as the README and the behaviour contract name them. A job
// moves queued → running → succeeded, or running → failed (its attempt
// failed; it waits for its retry delay) → running … → succeeded, or →
// dead once its attempts are used up or its error was permanent. A job
// enqueued with WithDelay or WithAt starts scheduled (until its due
// time, then queued); any job not finished may end cancelled (Cancel).
const (
	StateScheduled State = "scheduled" // waits for its due time (JobStatus.Due)
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed" // the last attempt failed; it will be retried
	StateDead      State = "dead"
	StateCancelled State = "cancelled"
)

// JobStatus is a job's status record.
type JobStatus struct {
	ID        string    `json:"id"`
	State     State     `json:"state"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Result    []byte    `json:"result,omitempty"`
	Enqueued  time.Time `json:"enqueued_at,omitzero"`
	// Due is when a scheduled job falls due (WithDelay, WithAt); zero
	// for a job enqueued to run at once.
	Due time.Time `json:"due_at,omitzero"`
	// Progress is what the handler last reported (Job.SetProgress).
	Progress *Progress `json:"progress,omitempty"`
	Updated  time.Time `json:"updated_at"`
}

// writeStatus stores s without waiting for the server (an asynchronous
// publish to the bucket's subject); a lost write only makes the record
// stale. Writes from one process keep their order.
func (q *Queue) writeStatus(s JobStatus) {
	if q.status == nil || s.ID == "" {
		return
	}
	s.Updated = time.Now().UTC()
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	m := &nats.Msg{Subject: "$KV." + statusBucket(q.name) + "." + s.ID, Data: b}
	if _, err := q.c.js.PublishMsgAsync(m); err != nil {
		q.c.log.Warn("queue: status write failed", "queue", q.name, "id", s.ID, "err", err)
	}
}

func (q *Queue) writeQueued(id string) {
	if q.status == nil {
		return
	}
	q.writeStatus(JobStatus{ID: id, State: StateQueued, Enqueued: time.Now().UTC()})
}

// writeEnqueued records job id, about to be published as m: queued, or
// scheduled with its due time.
func (q *Queue) writeEnqueued(m *nats.Msg, id string) {
	if q.status == nil {
		return
	}
	s := JobStatus{ID: id, State: StateQueued, Enqueued: time.Now().UTC()}
	if due := m.Header[hdrDue]; len(due) > 0 {
		s.State = StateScheduled
		s.Due, _ = time.Parse(time.RFC3339Nano, due[0])
	}
	q.writeStatus(s)
}

// JobStatus returns the status record of job id. A scheduled job not yet
// due is found in the schedule stream when it has no record (the queue
// does not track status, or its record expired, see StatusTTL): state
// scheduled with its due time. Errors wrap ErrStatusOff when the queue
// does not track status and the job is not scheduled, ErrNotFound for an
// unknown (or expired) job, or ErrBadID.
func (q *Queue) JobStatus(ctx context.Context, id string) (JobStatus, error) {
	if err := validateID(id); err != nil {
		return JobStatus{}, err
	}
	if q.status == nil {
		if s, ok, err := q.scheduled(ctx, id); ok || err != nil {
			return s, err
		}
		return JobStatus{}, fmt.Errorf("queue %q: job %q is not scheduled, and the queue does not track the status of other jobs: %w", q.name, id, ErrStatusOff)
	}
	e, err := q.status.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if s, ok, err := q.scheduled(ctx, id); ok || err != nil {
			return s, err
		}
		return JobStatus{}, fmt.Errorf("queue %q: job %q: %w", q.name, id, ErrNotFound)
	}
	if err != nil {
		return JobStatus{}, fmt.Errorf("queue %q: job %q status: %w", q.name, id, orClosed(err))
	}
	var s JobStatus
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return JobStatus{}, fmt.Errorf("queue %q: job %q: bad status record: %w", q.name, id, err)
	}
	return s, nil
}
