package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Cancel requests are keys of the queue's control bucket (CRQ_<name>_ctl,
// created with TrackStatus): the key is the job ID. Every worker of the
// queue watches the bucket, so it knows every open request without asking
// per job: a job it receives whose ID has a request is not run, and a
// running job whose request arrives has its handler's context cancelled
// (cause ErrCancelled). The worker that acts on a request deletes it, so
// a request lives only as long as its job could still run; the bucket's
// TTL (StatusTTL) removes a request no worker ever acted on.

// ctlBucketConfig is the control bucket of queue name.
func ctlBucketConfig(name string, cfg Config) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      ctlBucket(name),
		Description: "cloudrole cancel requests of queue " + name,
		TTL:         cfg.StatusTTL,
		Replicas:    cfg.Replicas,
		Storage:     jetstream.FileStorage,
	}
}

// Cancel cancels job id, in whatever process it is queued or running.
//
//   - A scheduled job not yet due is removed from the schedule stream: it
//     never runs. This works without TrackStatus.
//   - A queued job (or one waiting for a retry) never starts: the worker
//     that receives it terminates it unrun.
//   - A running job, on whichever instance runs it, has its handler's
//     context cancelled with the cause ErrCancelled (context.Cause); when
//     the handler returns, whatever it returns, the job is terminated:
//     not retried, not dead-lettered.
//
// The job's state becomes cancelled and a reply subject gets the outcome
// "cancelled". Cancel returns once the request is stored; a worker acts on
// it within moments (the workers watch the requests). A job a worker had
// already received, but not started, when the request reached it starts
// and is cancelled at once.
//
// Cancelling anything but a scheduled job needs the job's status record:
// errors wrap ErrStatusOff on a queue without TrackStatus, ErrNotFound for
// an unknown job (or one whose record expired, see StatusTTL),
// ErrAlreadyCancelled for a job cancelled before, ErrFinished for a job
// that succeeded or was dead-lettered (before the request or at the same
// moment), ErrBadID for a malformed ID.
func (q *Queue) Cancel(ctx context.Context, id string) error {
	if err := validateID(id); err != nil {
		return err
	}
	// A scheduled job's unique key (held while it is active) is released
	// here, since no worker will finish it.
	var uniqueKey string
	if raw, err := q.sched.GetLastMsgForSubject(ctx, atAnyLevel(q.name, id)); err == nil {
		uniqueKey = raw.Header.Get(hdrUnique)
	}
	n, err := q.c.purge(ctx, schedStream(q.name), atAnyLevel(q.name, id))
	if err != nil {
		return fmt.Errorf("queue %q: cancel %q: removing its schedule: %w", q.name, id, err)
	}
	if n > 0 {
		if uniqueKey != "" {
			q.releaseUnique(ctx, uniqueKey, id, 0)
		}
		q.writeCancelled(ctx, id)
		return nil
	}
	if q.status == nil {
		return fmt.Errorf("queue %q: cancel %q: the job is not scheduled, and the queue does not track the status of queued and running jobs (TrackStatus): %w", q.name, id, ErrStatusOff)
	}
	requested := false
	for range 10 {
		e, err := q.status.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("queue %q: cancel %q: %w (no status record: never enqueued, or its record expired after StatusTTL)", q.name, id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("queue %q: cancel %q: %w", q.name, id, orClosed(err))
		}
		var s JobStatus
		if err := json.Unmarshal(e.Value(), &s); err != nil {
			return fmt.Errorf("queue %q: cancel %q: bad status record: %w", q.name, id, err)
		}
		switch s.State {
		case StateCancelled:
			if requested {
				return nil
			}
			return fmt.Errorf("queue %q: cancel %q: %w", q.name, id, ErrAlreadyCancelled)
		case StateSucceeded, StateDead:
			if requested {
				q.dropCancel(ctx, id) // nothing left to act on it
			}
			return fmt.Errorf("queue %q: cancel %q: %w: its state is %s", q.name, id, ErrFinished, s.State)
		}
		if !requested {
			if _, err := q.ctl.Create(ctx, id, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
				if errors.Is(err, jetstream.ErrKeyExists) {
					return fmt.Errorf("queue %q: cancel %q: %w (a request is pending)", q.name, id, ErrAlreadyCancelled)
				}
				return fmt.Errorf("queue %q: cancel %q: storing the request: %w", q.name, id, orClosed(err))
			}
			requested = true
		}
		// Compare-and-set on the record read: a worker's write since
		// (the job started, failed or finished) makes it fail, and the
		// loop looks again.
		s.State, s.Updated = StateCancelled, time.Now().UTC()
		b, _ := json.Marshal(s)
		if _, err := q.status.Update(ctx, id, b, e.Revision()); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("queue %q: cancel %q: the request is stored, its status not yet updated: %w", q.name, id, context.Cause(ctx))
		}
	}
	// The request is stored and a worker will act on it; the record is
	// changing too fast to say so first.
	return nil
}

// writeCancelled records job id as cancelled (a scheduled job removed).
func (q *Queue) writeCancelled(ctx context.Context, id string) {
	if q.status == nil {
		return
	}
	s := JobStatus{ID: id, State: StateCancelled, Updated: time.Now().UTC()}
	if e, err := q.status.Get(ctx, id); err == nil {
		var old JobStatus
		if json.Unmarshal(e.Value(), &old) == nil {
			s.Enqueued, s.Due, s.Attempts = old.Enqueued, old.Due, old.Attempts
		}
	}
	b, _ := json.Marshal(s)
	if _, err := q.status.Put(ctx, id, b); err != nil {
		q.c.log.Warn("queue: status write failed", "queue", q.name, "id", id, "err", err)
	}
}

// dropCancel deletes the request of job id, once acted on.
func (q *Queue) dropCancel(ctx context.Context, id string) {
	if q.ctl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := q.ctl.Delete(ctx, id); err != nil {
		q.c.log.Warn("queue: cancel request not removed; it expires after StatusTTL", "queue", q.name, "id", id, "err", err)
	}
}

// cancelWatch is a worker's view of the queue's open cancel requests,
// kept current by a watch of the control bucket. Its goroutine belongs to
// the worker: started by watchCancels, ended by stop.
type cancelWatch struct {
	n   atomic.Int64 // entries in ids: a worker with none pays one load per job
	mu  sync.Mutex
	ids map[string]struct{}

	w    jetstream.KeyWatcher
	done chan struct{}
}

// watchCancels starts the watch and returns once it has read every
// request stored before, so no job starts that was cancelled before the
// worker started. onCancel is called (from the watch's goroutine) for
// each request that arrives after.
func watchCancels(ctx context.Context, kv jetstream.KeyValue, onCancel func(id string)) (*cancelWatch, error) {
	kw, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, err
	}
	cw := &cancelWatch{ids: map[string]struct{}{}, w: kw, done: make(chan struct{})}
	initial := make(chan struct{})
	go func() {
		defer close(cw.done)
		synced := false
		for e := range kw.Updates() {
			if e == nil {
				if !synced {
					synced = true
					close(initial)
				}
				continue
			}
			cw.mu.Lock()
			if e.Operation() == jetstream.KeyValuePut {
				cw.ids[e.Key()] = struct{}{}
			} else {
				delete(cw.ids, e.Key())
			}
			cw.n.Store(int64(len(cw.ids)))
			cw.mu.Unlock()
			if synced && e.Operation() == jetstream.KeyValuePut {
				onCancel(e.Key())
			}
		}
		if !synced {
			close(initial)
		}
	}()
	select {
	case <-initial:
		return cw, nil
	case <-ctx.Done():
		cw.stop()
		return nil, context.Cause(ctx)
	}
}

// has reports whether job id has an open cancel request.
func (cw *cancelWatch) has(id string) bool {
	if cw == nil || cw.n.Load() == 0 {
		return false
	}
	cw.mu.Lock()
	_, ok := cw.ids[id]
	cw.mu.Unlock()
	return ok
}

// stop ends the watch and waits for its goroutine.
func (cw *cancelWatch) stop() {
	_ = cw.w.Stop()
	<-cw.done
}
