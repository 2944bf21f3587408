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
// dead once its attempts are used up or its error was permanent.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed" // the last attempt failed; it will be retried
	StateDead      State = "dead"
)

// JobStatus is a job's status record.
type JobStatus struct {
	ID        string    `json:"id"`
	State     State     `json:"state"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Result    []byte    `json:"result,omitempty"`
	Enqueued  time.Time `json:"enqueued_at,omitzero"`
	Updated   time.Time `json:"updated_at"`
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

// JobStatus returns the status record of job id. Errors wrap ErrStatusOff
// when the queue does not track status, ErrNotFound for an unknown (or
// expired, see StatusTTL) job, or ErrBadID.
func (q *Queue) JobStatus(ctx context.Context, id string) (JobStatus, error) {
	if q.status == nil {
		return JobStatus{}, fmt.Errorf("queue %q: %w", q.name, ErrStatusOff)
	}
	if err := validateID(id); err != nil {
		return JobStatus{}, err
	}
	e, err := q.status.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
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
