package jobs

import (
	"context"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
)

// continuous keeps a continuous job running until ctx ends: each start is
// a run; when a run ends by itself it is started again after the tasks
// package's backoff (100 ms doubling to 30 s, reset after a run of 30 s).
// A singleton runs only while this instance holds the job's lease.
func (r *Runner) continuous(ctx context.Context, e *entry, ready chan<- struct{}) {
	conn, job := r.connection(), e.job
	g := tasks.NewGroup(ctx, tasks.Options{
		Name:        "jobs:" + job.Name,
		Logger:      r.log,
		Clock:       r.o.Clock,
		MaxRestarts: -1, // a failing job keeps restarting; it never recycles the role
		Grace:       job.StoppingWait + 10*time.Second,
		Instance:    r.o.Instance,
	})
	var opts []tasks.Option
	if job.Singleton {
		ttl := r.leaseTTL()
		opts = append(opts, tasks.Singleton(conn.locker, tasks.LockName(lockPrefix+job.Name),
			tasks.LeaseTTL(ttl), tasks.AcquireInterval(min(ttl/3, r.o.Heartbeat))))
	}
	r.mu.Lock()
	r.statsLocked(job.Name).group = g
	r.mu.Unlock()
	if err := g.Go(job.Name, func(ctx context.Context) error { return r.runContinuous(ctx, conn, job) }, opts...); err != nil {
		r.log.Error("jobs: cannot start a continuous job", "job", job.Name, "error", err.Error())
	}
	close(ready)
	<-ctx.Done()
	_ = g.Wait()
}

// runContinuous is one run of a continuous job.
func (r *Runner) runContinuous(ctx context.Context, conn *connection, job Job) error {
	now := time.Now().UTC()
	run := Run{ID: newRunID(job.Name, now), Job: job.Name, Kind: Continuous, Trigger: Trigger{Type: TriggerContinuous},
		State: Running, Instance: r.o.Instance, Session: r.session, CreatedAt: now, StartedAt: now, Heartbeat: Duration(r.o.Heartbeat)}
	rec, err := conn.st.create(ctx, run)
	if err != nil {
		return err
	}
	return r.execute(ctx, conn, job, rec, nil)
}
