package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/internal/lease"
	"github.com/cloudrole/cloudrole/queue"
)

// triggerQueue is the queue config of a triggered job: one level; a
// trigger is acknowledged when its run has ended, so a failed claim (NATS
// trouble) is retried, and a run whose instance died is redelivered to
// one that finds it claimed and leaves it to the sweeper.
func (r *Runner) triggerQueue() queue.Config {
	return queue.Config{
		Levels:     1,
		MaxDeliver: 20,
		AckWait:    30 * time.Second,
		RetryBase:  time.Second,
		RetryMax:   10 * time.Second,
		MaxBacklog: int64(r.o.MaxQueued),
		Replicas:   r.o.Replicas,
	}
}

// triggered runs a triggered job's loops: its schedule, if it has one,
// and a queue worker taking its runs, until ctx ends.
func (r *Runner) triggered(ctx context.Context, e *entry, ready chan<- struct{}) {
	conn, job := r.connection(), e.job
	q := r.declare(ctx, conn, job.Name)
	if q == nil {
		close(ready)
		return
	}
	sched := make(chan struct{})
	if s := job.schedule(); s != nil {
		go func() {
			defer close(sched)
			r.scheduleLoop(ctx, conn, job, s)
		}()
	} else {
		close(sched)
	}
	close(ready)
	err := q.Work(ctx, r.handler(conn, job.Name), queue.WorkerOptions{
		Concurrency: job.Concurrency,
		// Runs end by the runner's own stop (their stopping wait), not by
		// the worker's drain: it waits for them.
		DrainTimeout: 24 * time.Hour,
		Logger:       r.log,
	})
	if err != nil && ctx.Err() == nil {
		r.log.Error("jobs: the queue worker of a job ended", "job", job.Name, "error", err.Error())
	}
	<-sched
}

// declare declares the job's queue, retrying until it works or ctx ends
// (nil then). A queue stored with other settings (another instance's
// config) is used as stored.
func (r *Runner) declare(ctx context.Context, conn *connection, name string) *queue.Queue {
	delay := 100 * time.Millisecond
	for {
		q, err := conn.qc.Queue(ctx, queuePrefix+name, r.triggerQueue())
		if errors.Is(err, queue.ErrConfigMismatch) {
			r.log.Warn("jobs: the job's queue was declared with other settings (jobs.max_queued or replicas differ between instances); using it as stored",
				"job", name, "error", err.Error())
			q, err = conn.qc.OpenQueue(ctx, queuePrefix+name)
		}
		if err == nil {
			return q
		}
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("jobs: cannot declare the job's queue; retrying", "job", name, "error", err.Error())
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// handler takes a job's triggers: it claims the run (exactly one instance
// can) and runs it, returning when the run has ended.
func (r *Runner) handler(conn *connection, name string) queue.Handler {
	return func(ctx context.Context, qj *queue.Job) error {
		var t trigger
		if err := json.Unmarshal(qj.Payload, &t); err != nil || t.Job != name || CheckRunID(t.ID) != nil || jobOf(t.ID) != name {
			r.log.Error("jobs: a malformed trigger on the job's queue; dead-lettered", "job", name, "id", qj.ID)
			return queue.Permanent(fmt.Errorf("jobs: malformed trigger for %s: %q", name, short(string(qj.Payload))))
		}
		job, ok := r.job(name)
		if !ok || r.ctx.Err() != nil {
			return errNotHere // back to the queue, for another instance
		}
		rec, l, err := r.claim(ctx, conn, job, t)
		if err != nil || rec.ID == "" {
			return err
		}
		_ = r.execute(r.ctx, conn, job, rec, l)
		return nil
	}
}

// job returns the current definition of name.
func (r *Runner) job(name string) (Job, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.jobs[name]
	if !ok {
		return Job{}, false
	}
	return e.job, true
}

func (r *Runner) connection() *connection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn
}

// claim makes the run this instance's: it writes the record from
// NotStarted (or absent) to Running with a compare-and-set on its
// revision, so of the instances a trigger may reach only one runs it. A
// singleton job's run first takes the job's lease; if another run holds
// it, this one is recorded Failed without running. It returns an empty
// record when there is nothing to run (already claimed, ended or stopped).
func (r *Runner) claim(ctx context.Context, conn *connection, job Job, t trigger) (record, lease.Lease, error) {
	for range 100 {
		cur, err := conn.st.get(ctx, t.ID)
		missing := errors.Is(err, ErrNotFound)
		if err != nil && !missing {
			return record{}, nil, err
		}
		if !missing && cur.State != NotStarted {
			return record{}, nil, nil
		}
		var l lease.Lease
		if job.singleton() {
			l, err = conn.locker.Acquire(ctx, lockPrefix+job.Name, r.o.Instance+" "+t.ID, r.leaseTTL())
			if errors.Is(err, lease.ErrLockHeld) {
				return record{}, nil, r.refuse(ctx, conn, t, missing,
					"not started: another run of this singleton job was running ("+err.Error()+")")
			}
			if err != nil {
				return record{}, nil, err
			}
		}
		now := time.Now().UTC()
		run := Run{ID: t.ID, Job: t.Job, Kind: Triggered, Trigger: t.Trigger, CreatedAt: t.CreatedAt}
		if !missing {
			run = cur.Run
		}
		run.State, run.Instance, run.Session, run.StartedAt, run.Heartbeat = Running, r.o.Instance, r.session, now, Duration(r.o.Heartbeat)
		var w record
		if missing {
			w, err = conn.st.create(ctx, run)
		} else {
			w, err = conn.st.update(ctx, run, cur.rev)
		}
		if err == nil {
			return w, l, nil
		}
		if l != nil {
			_ = l.Release(ctx)
		}
		if !errors.Is(err, errConflict) && !errors.Is(err, errExists) {
			return record{}, nil, err
		}
	}
	return record{}, nil, fmt.Errorf("jobs: claim %s: too many concurrent writers", t.ID)
}

// refuse records a run Failed without running it.
func (r *Runner) refuse(ctx context.Context, conn *connection, t trigger, missing bool, why string) error {
	now := time.Now().UTC()
	if missing {
		run := Run{ID: t.ID, Job: t.Job, Kind: Triggered, Trigger: t.Trigger, CreatedAt: t.CreatedAt,
			State: Failed, EndedAt: now, Error: why}
		if _, err := conn.st.create(ctx, run); err != nil && !errors.Is(err, errExists) {
			return err
		}
	}
	_, err := conn.st.modify(ctx, t.ID, func(run *Run) bool {
		if run.State != NotStarted {
			return false
		}
		run.State, run.EndedAt, run.Error = Failed, now, why
		return true
	})
	return err
}

// leaseTTL is the TTL of a singleton triggered run's lease, renewed with
// every heartbeat.
func (r *Runner) leaseTTL() time.Duration { return max(15*time.Second, 3*r.o.Heartbeat) }

// onQueueEvent sees the job events of this process's queue workers; a
// trigger dead-lettered (its attempts used up by claims that kept failing,
// or instances that no longer define the job) leaves its run NotStarted
// with nothing to start it, so the run is recorded Failed. It runs on a
// worker's goroutine and must not block.
func (r *Runner) onQueueEvent(ev queue.Event) {
	dl, ok := ev.(queue.JobDeadLettered)
	if !ok || !strings.HasPrefix(dl.Queue, queuePrefix) || CheckRunID(dl.ID) != nil {
		return
	}
	r.mu.Lock()
	conn, stopped := r.conn, r.stopped
	if conn == nil || stopped {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		why := fmt.Sprintf("not started: its trigger was dead-lettered after %d attempts", dl.Attempts)
		if dl.Err != nil {
			why += " (last: " + dl.Err.Error() + ")"
		}
		if _, err := conn.st.modify(ctx, dl.ID, func(run *Run) bool {
			if run.State != NotStarted {
				return false
			}
			run.State, run.EndedAt, run.Error = Failed, time.Now().UTC(), why
			return true
		}); err != nil && !errors.Is(err, ErrNotFound) {
			r.log.Warn("jobs: cannot record a dead-lettered trigger's run", "run", dl.ID, "error", err.Error())
		}
	}()
}
