package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
)

// verbs are the demo's own commands, beside the ones every role binary has
// (run, validate, install…, and the operator's fleet, queues, dead-letters,
// requeue, purge, enqueue): they connect to the running role's queues (its
// embedded server on this machine, found through the store's lock file, or
// nats.url).
var verbs = []cloudrole.Verb{
	{Name: "rush", Summary: "rush TEXT: enqueue one order at high priority (while the demo runs)", Run: rush},
	{Name: "remind", Summary: "remind ID DELAY MESSAGE: a reminder the NATS server keeps until DELAY (90s, 2h) has passed", Run: remind},
	{Name: "cancel", Summary: "cancel ID: cancel a reminder, scheduled, queued or running", Run: cancelJob},
	{Name: "job", Summary: "job ID: a reminder's state (scheduled with its due time, running with its progress, ...)", Run: jobStatus},
	{Name: "schedules", Summary: "list the recurring schedules the NATS server fires (the sales report)", Run: listSchedules},
}

func rush(ctx context.Context, vc *cloudrole.VerbContext) int {
	if len(vc.Args) == 0 {
		fmt.Fprintf(vc.Stderr, "usage: %s rush TEXT [--config FILE]\n", vc.Name)
		return lifecycle.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := vc.Queues(ctx)
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	// Open the queue as the running role stored it: a tool must not
	// decide its settings.
	q, err := c.OpenQueue(ctx, "orders")
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	id, err := q.Enqueue(ctx, []byte("rush "+strings.Join(vc.Args, " ")), queue.WithPriority(queue.High))
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	fmt.Fprintln(vc.Stdout, "enqueued", id)
	return lifecycle.ExitOK
}
