package queue

import (
	"time"

	"github.com/nats-io/nuid"
)

// defaultMaxResult is Config.MaxResult's default, and the limit of a job
// made by NewJob.
const defaultMaxResult = 64 << 10

// JobOption changes a job made by NewJob.
type JobOption func(*Job)

// JobMaxResult sets the most bytes the job's SetResult accepts, as
// Config.MaxResult does for the jobs of a queue; test a handler with the
// limit of the queue it serves. n <= 0 accepts only an empty result.
func JobMaxResult(n int) JobOption {
	return func(j *Job) { j.maxResult = max(n, 0) }
}

// NewJob returns a job for calling a Handler outside a worker: in a unit
// test of the handler, or to run it inline. It is the job a queue with the
// default Config delivers on its first attempt: a generated ID (as Enqueue
// without WithID makes), Priority Normal, Attempt 1, EnqueuedAt now, no
// headers, and a SetResult that accepts up to 64 KiB (see JobMaxResult).
// Set the exported fields before calling the handler to deliver it
// otherwise, e.g. Attempt = 5 for its last attempt; read what the handler
// recorded with Result.
//
// Nothing is acknowledged, retried or dead-lettered: what the handler
// returns is the outcome a worker would act on (see Handler).
func NewJob(payload []byte, opts ...JobOption) *Job {
	j := &Job{
		ID:         nuid.Next(),
		Priority:   Normal,
		Attempt:    1,
		Payload:    payload,
		EnqueuedAt: time.Now(),
		maxResult:  defaultMaxResult,
	}
	for _, o := range opts {
		if o != nil {
			o(j)
		}
	}
	return j
}
