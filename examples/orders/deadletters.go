package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/lifecycle"
)

// verbs are the demo's operator commands, beside run, validate, install…:
// they connect to the running role's queues (its embedded server on this
// machine, found through the store's lock file, or nats.url) and open the
// orders queue as the role stored it.
var verbs = []cloudrole.Verb{
	{Name: "dead-letters", Summary: "list the orders queue's dead letters (while the demo runs)", Run: listDeadLetters},
	{Name: "requeue", Summary: "requeue SEQ|ID: put a dead letter back into the orders queue", Run: requeue},
	{Name: "remind", Summary: "remind ID DELAY MESSAGE: a reminder the NATS server keeps until DELAY (90s, 2h) has passed", Run: remind},
	{Name: "cancel", Summary: "cancel ID: cancel a reminder, scheduled, queued or running", Run: cancelJob},
	{Name: "job", Summary: "job ID: a reminder's state (scheduled with its due time, running with its progress, ...)", Run: jobStatus},
	{Name: "schedules", Summary: "list the recurring schedules the NATS server fires (the sales report)", Run: listSchedules},
}

func listDeadLetters(ctx context.Context, vc *cloudrole.VerbContext) int {
	if len(vc.Args) != 0 {
		fmt.Fprintf(vc.Stderr, "usage: %s dead-letters [--config FILE]\n", vc.Name)
		return lifecycle.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := vc.Queues(ctx)
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	q, err := c.OpenQueue(ctx, "orders")
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	dead, err := q.DeadLetters(ctx, 100)
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	w := tabwriter.NewWriter(vc.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tID\tPRIORITY\tATTEMPTS\tDEAD AT\tPAYLOAD\tERROR")
	for _, d := range dead {
		fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%s\t%q\t%s\n", d.Seq, d.ID, d.Priority, d.Attempts, d.DeadAt.Format(time.TimeOnly), d.Payload, d.Error)
	}
	w.Flush()
	fmt.Fprintf(vc.Stdout, "%d dead letters\n", len(dead))
	return lifecycle.ExitOK
}

func requeue(ctx context.Context, vc *cloudrole.VerbContext) int {
	if len(vc.Args) != 1 {
		fmt.Fprintf(vc.Stderr, "usage: %s requeue SEQ|JOB-ID [--config FILE]\n", vc.Name)
		return lifecycle.ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := vc.Queues(ctx)
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	q, err := c.OpenQueue(ctx, "orders")
	if err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	if err := q.Requeue(ctx, vc.Args[0]); err != nil {
		fmt.Fprintln(vc.Stderr, err)
		return lifecycle.ExitError
	}
	fmt.Fprintln(vc.Stdout, "re-queued", vc.Args[0])
	return lifecycle.ExitOK
}
