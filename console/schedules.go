package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// The schedules page: every queue's recurring schedules, kept by the NATS
// server (queue.SetSchedule), and how many scheduled jobs (WithDelay,
// WithAt) wait for their time; an operator may remove a schedule.

// schedRow is one queue on the schedules page.
type schedRow struct {
	Queue     string
	Schedules []queue.ScheduleInfo
	Scheduled uint64 // scheduled jobs not yet due
	Err       string
}

func (c *Console) schedulesView() view {
	return view{title: "Schedules", nav: "schedules", main: "schedules-main", data: func(ctx context.Context) (any, string) {
		rows, note := c.scheduleRows(ctx)
		return rows, note
	}}
}

// scheduleRows reads every queue's schedules and scheduled-job count, a
// few queues at a time (as the queues page does).
func (c *Console) scheduleRows(ctx context.Context) ([]schedRow, string) {
	cl := c.client()
	if cl == nil {
		return nil, "this role has not connected to NATS: there are no schedules to show"
	}
	names, err := cl.QueueNames(ctx)
	if err != nil {
		return nil, err.Error()
	}
	if len(names) == 0 {
		return nil, "no queues in this fleet, so no schedules"
	}
	return perQueue(names, func(n string) schedRow { return c.scheduleRow(ctx, cl, n) }), ""
}

func (c *Console) scheduleRow(ctx context.Context, cl *queue.Client, name string) schedRow {
	row := schedRow{Queue: name}
	q, err := c.open(ctx, cl, name)
	if err != nil {
		row.Err = err.Error()
		return row
	}
	if row.Schedules, err = q.Schedules(ctx); err != nil {
		c.forget(name) // changed or removed since it was opened
		row.Err = err.Error()
		return row
	}
	if row.Scheduled, err = q.ScheduledJobs(ctx); err != nil {
		row.Err = err.Error()
	}
	return row
}

func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request, who string) {
	c.show(w, r, who, c.schedulesView(), "/console/events?view=schedules")
}

// removeSchedule removes a recurring schedule: it fires no more (jobs it
// fired stay queued).
func (c *Console) removeSchedule(w http.ResponseWriter, r *http.Request, who string) {
	name, sched := r.PathValue("name"), r.PathValue("schedule")
	const back = "/console/schedules"
	cl := c.client()
	if cl == nil {
		c.back(w, r, back, "error", "not connected to NATS")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	q, err := c.open(ctx, cl, name)
	if err == nil {
		err = q.RemoveSchedule(ctx, sched)
	}
	c.o.Logger.Warn("console action", "by", who, "action", "remove schedule", "queue", name, "schedule", sched, "error", errText(err))
	switch {
	case errors.Is(err, queue.ErrNotFound):
		c.back(w, r, back, "error", "not removed: no schedule "+sched+" on queue "+name+" ("+err.Error()+")")
	case err != nil:
		c.back(w, r, back, "error", "not removed: "+err.Error())
	default:
		c.back(w, r, back, "notice", "removed schedule "+sched+" of queue "+name)
	}
}
