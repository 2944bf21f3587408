package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
)

// scheduleLoop fires a scheduled job at each fire time of s (on the
// runner's clock) until ctx ends. Every instance that defines the job
// fires; the fire's run ID is the same on all of them, so the fleet stores
// and runs one run per fire time. A fire time missed while no instance
// was running is skipped; a timer that fires late fires once.
func (r *Runner) scheduleLoop(ctx context.Context, conn *connection, job Job, s *tasks.CronSchedule) {
	clock := r.o.Clock
	for {
		now := clock.Now()
		next := s.Next(now)
		if next.IsZero() {
			return
		}
		r.mu.Lock()
		r.statsLocked(job.Name).nextFire = next
		r.mu.Unlock()
		t := clock.NewTimer(next.Sub(now))
		select {
		case <-t.Chan():
		case <-ctx.Done():
			t.Stop()
			return
		}
		r.fire(ctx, conn, job, next)
	}
}

// fire triggers the run of the fire time at, unless a run of the job is
// still queued or running (the fire is then skipped: a scheduled job never
// overlaps itself) or another instance has already fired it.
func (r *Runner) fire(ctx context.Context, conn *connection, job Job, at time.Time) {
	id := fireRunID(job.Name, at)
	active, ok, err := conn.client.active(ctx, job.Name)
	switch {
	case err != nil:
		r.log.Warn("jobs: cannot check the schedule's last run; firing anyway", "job", job.Name, "error", err.Error())
	case ok && active.ID == id:
		return // fired by another instance
	case ok:
		r.mu.Lock()
		r.statsLocked(job.Name).skipped++
		r.mu.Unlock()
		r.log.Warn("jobs: schedule fire skipped: the last run has not ended", "job", job.Name, "fire", at.UTC().Format(time.RFC3339), "running", active.ID)
		return
	}
	t := trigger{ID: id, Job: job.Name, Trigger: Trigger{Type: TriggerSchedule, Fire: at.UTC()}, CreatedAt: time.Now().UTC()}
	if err := conn.client.enqueue(ctx, t); err != nil && !errors.Is(err, context.Canceled) {
		r.log.Error("jobs: schedule fire not queued", "job", job.Name, "fire", at.UTC().Format(time.RFC3339), "error", err.Error())
	}
}
