package cloudrole

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudrole/cloudrole/fleet"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
)

// The operator verbs every role binary has: they reach the running fleet
// through the configured NATS (for the embedded server, the running role's,
// found through its store lock: never a second server on the same data
// dir), print aligned tables for people and JSON with --json for scripts.

func operatorVerbs() []Verb {
	return []Verb{
		{Name: "fleet", Summary: "list every instance on the role's NATS, with state and readiness [--json]", Run: fleetVerb},
		{Name: "queues", Summary: "list the queues: waiting per level, running, dead letters [--json]", Run: queuesVerb},
		{Name: "dead-letters", Summary: "dead-letters QUEUE: list a queue's dead letters [--json] [--limit N]", Run: deadLettersVerb},
		{Name: "requeue", Summary: "requeue QUEUE SEQ|ID|--all: put dead letters back into the queue", Run: requeueVerb},
		{Name: "purge", Summary: "purge QUEUE [--dead-letters] --yes: delete a queue's waiting jobs (or its dead letters)", Run: purgeVerb},
		{Name: "enqueue", Summary: "enqueue QUEUE [--priority P] [--id ID] BODY|-: store one job (- reads the body from stdin)", Run: enqueueVerb},
	}
}

// verbFlags parses a verb's own flags, interleaved with its arguments.
func verbFlags(vc *VerbContext, define func(fs *flag.FlagSet)) ([]string, bool) {
	fs := flag.NewFlagSet(vc.Name, flag.ContinueOnError)
	fs.SetOutput(vc.Stderr)
	define(fs)
	var args []string
	rest := vc.Args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			return args, true
		}
		args = append(args, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}

func usageErr(vc *VerbContext, format string, a ...any) int {
	fmt.Fprintf(vc.Stderr, "%s: "+format+"\n", append([]any{vc.Name}, a...)...)
	return lifecycle.ExitUsage
}

func failed(vc *VerbContext, err error) int {
	fmt.Fprintf(vc.Stderr, "%s: %v\n", vc.Name, err)
	return lifecycle.ExitError
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return lifecycle.ExitError
	}
	return lifecycle.ExitOK
}

func fleetVerb(ctx context.Context, vc *VerbContext) int {
	var asJSON bool
	args, ok := verbFlags(vc, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") })
	if !ok || len(args) != 0 {
		return usageErr(vc, "usage: fleet [--json]")
	}
	c, err := vc.Queues(ctx)
	if err != nil {
		return failed(vc, err)
	}
	ms, err := fleet.Read(ctx, c, time.Now())
	if err != nil {
		return failed(vc, err)
	}
	if asJSON {
		return printJSON(vc.Stdout, ms)
	}
	w := tabwriter.NewWriter(vc.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ROLE\tINSTANCE\tSTATE\tREADY\tUPTIME\tRECYCLES\tFAILURES\tSEEN")
	for _, m := range ms {
		state := m.State
		if m.Gone {
			state = "gone (" + m.State + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%d\t%d\t%s ago\n", m.Role, m.Instance, state, m.Summary.Ready,
			m.Summary.Uptime.Round(time.Second), m.Summary.Recycles, m.Summary.Failures, m.Age.Round(time.Second))
	}
	w.Flush()
	return lifecycle.ExitOK
}

func queuesVerb(ctx context.Context, vc *VerbContext) int {
	var asJSON bool
	args, ok := verbFlags(vc, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") })
	if !ok || len(args) != 0 {
		return usageErr(vc, "usage: queues [--json]")
	}
	c, err := vc.Queues(ctx)
	if err != nil {
		return failed(vc, err)
	}
	names, err := c.QueueNames(ctx)
	if err != nil {
		return failed(vc, err)
	}
	var all []queue.Stats
	for _, n := range names {
		q, err := c.OpenQueue(ctx, n)
		if err != nil {
			return failed(vc, err)
		}
		st, err := q.Stats(ctx)
		if err != nil {
			return failed(vc, err)
		}
		all = append(all, st)
	}
	if asJSON {
		return printJSON(vc.Stdout, all)
	}
	w := tabwriter.NewWriter(vc.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "QUEUE\tWAITING (per level)\tRUNNING\tOLDEST WAITING\tDEAD LETTERS")
	for _, st := range all {
		var waiting []string
		var running uint64
		for l := range st.Waiting {
			waiting = append(waiting, strconv.FormatUint(st.Waiting[l], 10))
			running += st.Running[l]
		}
		oldest := "-"
		if !st.Oldest.IsZero() {
			oldest = time.Since(st.Oldest).Round(time.Second).String()
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\n", st.Name, strings.Join(waiting, " / "), running, oldest, st.DeadLetters)
	}
	w.Flush()
	return lifecycle.ExitOK
}

// openQueue connects and opens the queue the first argument names, as it
// is stored: a tool never decides a queue's settings.
func openQueue(ctx context.Context, vc *VerbContext, name string) (*queue.Queue, int) {
	c, err := vc.Queues(ctx)
	if err != nil {
		return nil, failed(vc, err)
	}
	q, err := c.OpenQueue(ctx, name)
	if err != nil {
		return nil, failed(vc, err)
	}
	return q, -1
}

func deadLettersVerb(ctx context.Context, vc *VerbContext) int {
	var asJSON bool
	var limit int
	args, ok := verbFlags(vc, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.IntVar(&limit, "limit", 100, "at most this many")
	})
	if !ok || len(args) != 1 {
		return usageErr(vc, "usage: dead-letters QUEUE [--json] [--limit N]")
	}
	q, code := openQueue(ctx, vc, args[0])
	if q == nil {
		return code
	}
	dead, err := q.DeadLetters(ctx, limit)
	if err != nil {
		return failed(vc, err)
	}
	if asJSON {
		return printJSON(vc.Stdout, dead)
	}
	w := tabwriter.NewWriter(vc.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tID\tPRIORITY\tATTEMPTS\tDEAD AT\tPAYLOAD\tERROR")
	for _, d := range dead {
		p := fmt.Sprintf("%q", d.Payload)
		if len(p) > 40 {
			p = p[:40] + "…"
		}
		fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", d.Seq, d.ID, d.Priority, d.Attempts, d.DeadAt.Format(time.DateTime), p, d.Error)
	}
	w.Flush()
	fmt.Fprintf(vc.Stdout, "%d dead letters\n", len(dead))
	return lifecycle.ExitOK
}

func requeueVerb(ctx context.Context, vc *VerbContext) int {
	var all bool
	args, ok := verbFlags(vc, func(fs *flag.FlagSet) { fs.BoolVar(&all, "all", false, "every dead letter") })
	if !ok || (all && len(args) != 1) || (!all && len(args) != 2) {
		return usageErr(vc, "usage: requeue QUEUE SEQ|ID, or requeue QUEUE --all")
	}
	q, code := openQueue(ctx, vc, args[0])
	if q == nil {
		return code
	}
	if all {
		n, err := q.RequeueAll(ctx)
		if err != nil {
			return failed(vc, fmt.Errorf("re-queued %d, then: %w", n, err))
		}
		fmt.Fprintf(vc.Stdout, "re-queued %d dead letters\n", n)
		return lifecycle.ExitOK
	}
	if err := q.Requeue(ctx, args[1]); err != nil {
		return failed(vc, err)
	}
	fmt.Fprintln(vc.Stdout, "re-queued", args[1])
	return lifecycle.ExitOK
}

func purgeVerb(ctx context.Context, vc *VerbContext) int {
	var dead, yes bool
	args, ok := verbFlags(vc, func(fs *flag.FlagSet) {
		fs.BoolVar(&dead, "dead-letters", false, "purge the dead letters instead of the waiting jobs")
		fs.BoolVar(&yes, "yes", false, "confirm: purged jobs are gone")
	})
	if !ok || len(args) != 1 {
		return usageErr(vc, "usage: purge QUEUE [--dead-letters] --yes")
	}
	if !yes {
		return usageErr(vc, "purge deletes jobs for good: add --yes to confirm")
	}
	q, code := openQueue(ctx, vc, args[0])
	if q == nil {
		return code
	}
	var n uint64
	var err error
	what := "waiting jobs"
	if dead {
		what = "dead letters"
		n, err = q.PurgeDeadLetters(ctx)
	} else {
		n, err = q.Purge(ctx)
	}
	if err != nil {
		return failed(vc, err)
	}
	fmt.Fprintf(vc.Stdout, "purged %d %s of %s\n", n, what, args[0])
	return lifecycle.ExitOK
}

func enqueueVerb(ctx context.Context, vc *VerbContext) int {
	var prio int
	var id string
	args, ok := verbFlags(vc, func(fs *flag.FlagSet) {
		fs.IntVar(&prio, "priority", -1, "level, 0 the highest (default: the queue's default)")
		fs.StringVar(&id, "id", "", "job ID (dedupe within the queue's duplicate window)")
	})
	if !ok || len(args) != 2 {
		return usageErr(vc, "usage: enqueue QUEUE [--priority P] [--id ID] BODY|-")
	}
	body := []byte(args[1])
	if args[1] == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
		if err != nil {
			return failed(vc, err)
		}
		body = b
	}
	q, code := openQueue(ctx, vc, args[0])
	if q == nil {
		return code
	}
	var opts []queue.EnqueueOption
	if prio >= 0 {
		opts = append(opts, queue.WithPriority(queue.Priority(prio)))
	}
	if id != "" {
		opts = append(opts, queue.WithID(id))
	}
	got, err := q.Enqueue(ctx, body, opts...)
	if err != nil {
		if errors.Is(err, queue.ErrBadPriority) || errors.Is(err, queue.ErrBadID) {
			return usageErr(vc, "%v", err)
		}
		return failed(vc, err)
	}
	fmt.Fprintln(vc.Stdout, got)
	return lifecycle.ExitOK
}
