package queue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Handler processes one job. Returning nil acknowledges it. An error is
// retried after a backoff, up to the queue's MaxDeliver attempts, then
// dead-lettered; an error wrapping Permanent is dead-lettered at once. A
// panic is recovered and counts as an error. ctx ends when the worker's
// drain timeout runs out (cause ErrDraining); the job is then given back.
// It ends with the cause ErrCancelled when the job is cancelled
// (Queue.Cancel): what the handler returns then is ignored, and the job is
// terminated.
type Handler func(ctx context.Context, j *Job) error

// Job is one delivery of a job to a handler. Its methods are safe for
// concurrent use.
type Job struct {
	// ID is the job ID given at enqueue, or the one Enqueue returned. For
	// a fire of a recurring schedule, "<schedule>.<fire time,
	// 20060102T150405Z>". For a job enqueued without WithID (and without
	// TrackStatus, WithUnique or a due time), or a message published by
	// another tool without one, "seq-<level>-<stream sequence>", unique
	// within the queue.
	ID string
	// Priority is the level the job was enqueued at.
	Priority Priority
	// Attempt is the delivery count, 1 on the first delivery.
	Attempt int
	// Payload is the job's body.
	Payload []byte
	// Headers are the producer's headers (cloudrole's own are removed):
	// nil when the producer set none. Reading a nil Header is fine; copy
	// it before adding to it.
	Headers nats.Header
	// EnqueuedAt is when the server stored the job (for a scheduled job,
	// when its level stored it, on falling due).
	EnqueuedAt time.Time
	// Key is the job's fairness key (WithKey), or "".
	Key string
	// Due is when a job enqueued with WithDelay or WithAt fell due; zero
	// for a job enqueued to run at once. Start minus Due is how late the
	// job started.
	Due time.Time

	msg       *nats.Msg
	env       envelope
	maxResult int

	mu     sync.Mutex
	result []byte

	wk   *executor                // the worker running it; nil for NewJob
	prog atomic.Pointer[progress] // made by the first SetProgress
}

// SetResult records a small result, published to the job's reply subject
// and kept in its status record. It returns an error wrapping
// ErrResultTooLarge (and keeps the previous result) when r exceeds the
// queue's MaxResult.
func (j *Job) SetResult(r []byte) error {
	if len(r) > j.maxResult {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrResultTooLarge, len(r), j.maxResult)
	}
	j.mu.Lock()
	j.result = append([]byte(nil), r...)
	j.mu.Unlock()
	return nil
}

// Result returns a copy of the result last recorded with SetResult, or nil
// if none was. A test that called a handler with a job from NewJob reads
// what the handler set here.
func (j *Job) Result() []byte {
	r := j.getResult()
	if r == nil {
		return nil
	}
	return append([]byte(nil), r...)
}

func (j *Job) getResult() []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.result
}

// userHeaders returns h without cloudrole's and the server's headers, or
// nil if nothing is left: most jobs carry no producer headers, and a map
// per job was a tenth of a worker's allocations.
func userHeaders(h nats.Header) nats.Header {
	var out nats.Header
	for k, v := range h {
		if hasPrefixFold(k, "Cloudrole-") || hasPrefixFold(k, "Nats-") {
			continue
		}
		if out == nil {
			out = make(nats.Header, len(h))
		}
		out[k] = v
	}
	return out
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && equalFold(s[:len(p)], p)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
