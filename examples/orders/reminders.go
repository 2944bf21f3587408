package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// The reminders queue shows work the NATS server schedules: a reminder
// enqueued to run later (from the CLI: remind), a recurring sales report
// the server fires every SalesReportSeconds without any leader among the
// demo's instances, and a cancel from the CLI. It tracks job status, so a
// queued or running reminder can be cancelled too, and its handler reports
// progress.
const remindersQueue = "reminders"

var remindersConfig = queue.Config{Levels: 1, TrackStatus: true}

// salesReport is the recurring schedule every instance declares at start
// (declaring it again changes nothing).
const salesReport = "sales-report"

// workReminders declares the reminders queue and its schedule, then works
// it until ctx ends.
func workReminders(ctx context.Context, env role.Env) error {
	every, err := intSetting(env, "SalesReportSeconds", 30)
	if err != nil {
		return err
	}
	c, err := queue.Connect(ctx)
	if err != nil {
		return err
	}
	q, err := c.Queue(ctx, remindersQueue, remindersConfig)
	if err != nil {
		return err
	}
	if every > 0 {
		s := queue.Schedule{Name: salesReport, Every: time.Duration(every) * time.Second}
		if err := q.SetSchedule(ctx, s, []byte("sales report")); err != nil {
			return err
		}
	} else if err := q.RemoveSchedule(ctx, salesReport); err != nil && !errors.Is(err, queue.ErrNotFound) {
		return err
	}
	return q.Work(ctx, func(ctx context.Context, j *queue.Job) error {
		late := ""
		if !j.Due.IsZero() {
			late = time.Since(j.Due).Round(time.Millisecond).String()
		}
		// A reminder of "slow ..." takes a while and says how far it got,
		// so there is time to cancel it while it runs.
		if strings.HasPrefix(string(j.Payload), "slow") {
			for i := 1; i <= 30; i++ {
				j.SetProgress(float64(i*100/30), fmt.Sprintf("step %d of 30", i))
				select {
				case <-ctx.Done():
					return context.Cause(ctx) // cancelled: queue.ErrCancelled
				case <-time.After(time.Second):
				}
			}
		}
		env.Logger().Info("reminder sent", "id", j.ID, "message", string(j.Payload), "late", late)
		return nil
	}, queue.WorkerOptions{Concurrency: 2})
}

// openReminders opens the running role's reminders queue for a verb.
func openReminders(ctx context.Context, vc *cloudrole.VerbContext) (*queue.Queue, bool) {
	c, err := vc.Queues(ctx)
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return nil, false
	}
	q, err := c.OpenQueue(ctx, remindersQueue)
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return nil, false
	}
	return q, true
}

// remind enqueues a reminder to be sent after a delay: `remind ID DELAY
// MESSAGE...` (DELAY as Go writes durations: 90s, 2h).
func remind(ctx context.Context, vc *cloudrole.VerbContext) int {
	if len(vc.Args) < 3 {
		fmt.Fprintf(vc.Stderr, "usage: %s remind ID DELAY MESSAGE... [--config FILE]\n", vc.Name)
		return lifecycle.ExitUsage
	}
	d, err := time.ParseDuration(vc.Args[1])
	if err != nil {
		fmt.Fprintf(vc.Stderr, "delay %q: %v\n", vc.Args[1], err)
		return lifecycle.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q, ok := openReminders(ctx, vc)
	if !ok {
		return lifecycle.ExitError
	}
	id, err := q.Enqueue(ctx, []byte(strings.Join(vc.Args[2:], " ")), queue.WithID(vc.Args[0]), queue.WithDelay(d))
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	fmt.Fprintf(vc.Stdout, "reminder %s due at %s\n", id, time.Now().Add(d).Format(time.TimeOnly))
	return lifecycle.ExitOK
}

// cancelJob cancels a reminder, scheduled, queued or running: `cancel ID`.
func cancelJob(ctx context.Context, vc *cloudrole.VerbContext) int {
	if len(vc.Args) != 1 {
		fmt.Fprintf(vc.Stderr, "usage: %s cancel ID [--config FILE]\n", vc.Name)
		return lifecycle.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q, ok := openReminders(ctx, vc)
	if !ok {
		return lifecycle.ExitError
	}
	if err := q.Cancel(ctx, vc.Args[0]); err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	fmt.Fprintln(vc.Stdout, "cancelled", vc.Args[0])
	return lifecycle.ExitOK
}

// jobStatus shows a reminder's state: `status ID`.
func jobStatus(ctx context.Context, vc *cloudrole.VerbContext) int {
	if len(vc.Args) != 1 {
		fmt.Fprintf(vc.Stderr, "usage: %s job ID [--config FILE]\n", vc.Name)
		return lifecycle.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q, ok := openReminders(ctx, vc)
	if !ok {
		return lifecycle.ExitError
	}
	s, err := q.JobStatus(ctx, vc.Args[0])
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	fmt.Fprintf(vc.Stdout, "%s: %s", s.ID, s.State)
	if !s.Due.IsZero() {
		fmt.Fprintf(vc.Stdout, ", due %s", s.Due.Local().Format(time.TimeOnly))
	}
	if s.Progress != nil {
		fmt.Fprintf(vc.Stdout, ", progress %.0f%% (%s)", s.Progress.Done, s.Progress.Message)
	}
	fmt.Fprintln(vc.Stdout)
	return lifecycle.ExitOK
}

// listSchedules lists the reminders queue's recurring schedules.
func listSchedules(ctx context.Context, vc *cloudrole.VerbContext) int {
	if len(vc.Args) != 0 {
		fmt.Fprintf(vc.Stderr, "usage: %s schedules [--config FILE]\n", vc.Name)
		return lifecycle.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q, ok := openReminders(ctx, vc)
	if !ok {
		return lifecycle.ExitError
	}
	list, err := q.Schedules(ctx)
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	w := tabwriter.NewWriter(vc.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tWHEN\tPAYLOAD\tSET AT")
	for _, s := range list {
		when := "every " + s.Every.String()
		if s.Cron != "" {
			when = fmt.Sprintf("cron %q %s, next %s", s.Cron, s.TimeZone, s.Next.Format(time.DateTime))
		}
		fmt.Fprintf(w, "%s\t%s\t%q\t%s\n", s.Name, when, s.Payload, s.Updated.Local().Format(time.DateTime))
	}
	w.Flush()
	fmt.Fprintf(vc.Stdout, "%d schedules\n", len(list))
	return lifecycle.ExitOK
}
