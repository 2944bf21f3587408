package cloudrole

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/lifecycle"
)

// workflowsVerb manages the durable orchestrations of the running role,
// over its NATS (the external cluster, or the embedded server of the
// instance running on this machine); it never starts a server of its own.
var workflowsVerb = Verb{
	Name:    "workflows",
	Summary: "manage durable orchestrations: workflows start|status|raise|terminate|purge|list (workflows help)",
	Run:     runWorkflows,
}

const workflowsUsage = `usage: %[1]s workflows COMMAND [--hub NAME] [--config FILE] ...

commands (the role must be running: they use its NATS):
  start NAME ID [INPUT]   start orchestrator NAME as instance ID; INPUT is JSON ('"text"', '{"n":1}')
                          [--queue Q]
  status ID               the instance's status (JSON, Durable Functions' fields)
  raise ID EVENT [DATA]   raise EVENT on the instance; DATA is JSON
  terminate ID [REASON]   end the instance now
  purge ID                remove an ended instance's history
  list                    the instances, newest first [--status Running,Pending] [--limit N] [--json]

--hub NAME is the task hub (default "default").
`

func runWorkflows(ctx context.Context, vc *VerbContext) int {
	if len(vc.Args) == 0 || vc.Args[0] == "help" || vc.Args[0] == "-h" || vc.Args[0] == "--help" {
		w, code := vc.Stdout, lifecycle.ExitOK
		if len(vc.Args) == 0 {
			w, code = vc.Stderr, lifecycle.ExitUsage
		}
		fmt.Fprintf(w, workflowsUsage, vc.Name)
		return code
	}
	cmd, rest := vc.Args[0], vc.Args[1:]
	fs := flag.NewFlagSet(vc.Name+" workflows "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hub := fs.String("hub", "default", "")
	queueName := fs.String("queue", "", "")
	status := fs.String("status", "", "")
	limit := fs.Int("limit", 0, "")
	asJSON := fs.Bool("json", false, "")
	usage := func(format string, a ...any) int {
		fmt.Fprintf(vc.Stderr, "%s workflows %s: %s\n\n", vc.Name, cmd, fmt.Sprintf(format, a...))
		fmt.Fprintf(vc.Stderr, workflowsUsage, vc.Name)
		return lifecycle.ExitUsage
	}
	args, err := interleaved(fs, rest)
	if err != nil {
		return usage("%v", err)
	}
	nargs := map[string][2]int{"start": {2, 3}, "status": {1, 1}, "raise": {2, 3}, "terminate": {1, -1}, "purge": {1, 1}, "list": {0, 0}}
	n, ok := nargs[cmd]
	switch {
	case !ok:
		return usage("unknown command %q", cmd)
	case len(args) < n[0] || n[1] >= 0 && len(args) > n[1]:
		return usage("wrong number of arguments")
	}
	var payload json.RawMessage
	if (cmd == "start" || cmd == "raise") && len(args) == n[1] {
		payload = json.RawMessage(args[n[1]-1])
		if !json.Valid(payload) {
			return usage("%q is not JSON (quote a text: '\"%s\"')", args[n[1]-1], args[n[1]-1])
		}
	}
	var filter []durable.RuntimeStatus
	for _, s := range strings.Split(*status, ",") {
		if s = strings.TrimSpace(s); s != "" {
			rs, err := durable.ParseRuntimeStatus(s)
			if err != nil {
				return usage("--status: %v", err)
			}
			filter = append(filter, rs)
		}
	}

	qc, err := vc.Queues(ctx)
	if err != nil {
		fmt.Fprintf(vc.Stderr, "%s workflows: %v\n", vc.Name, err)
		return lifecycle.ExitError
	}
	h, err := durable.Open(ctx, durable.Options{Hub: *hub, Conn: qc.Conn()})
	if err != nil {
		fmt.Fprintf(vc.Stderr, "%s workflows: %v\n", vc.Name, err)
		return lifecycle.ExitError
	}
	defer h.Close()
	fail := func(err error) int {
		fmt.Fprintf(vc.Stderr, "%s workflows %s: %v\n", vc.Name, cmd, err)
		return lifecycle.ExitError
	}
	switch cmd {
	case "start":
		var inputs []any
		if payload != nil {
			inputs = append(inputs, payload)
		}
		if err := h.Start(ctx, args[0], durable.StartOptions{InstanceID: args[1], Queue: *queueName}, inputs...); err != nil {
			return fail(err)
		}
		fmt.Fprintf(vc.Stdout, "started %s as %s\n", args[0], args[1])
	case "status":
		s, err := h.Status(ctx, args[0])
		if err != nil {
			return fail(err)
		}
		return printJSON(vc.Stdout, s)
	case "raise":
		var data any
		if payload != nil {
			data = payload
		}
		if err := h.RaiseEvent(ctx, args[0], args[1], data); err != nil {
			return fail(err)
		}
		fmt.Fprintf(vc.Stdout, "raised %s on %s\n", args[1], args[0])
	case "terminate":
		if err := h.Terminate(ctx, args[0], strings.Join(args[1:], " ")); err != nil {
			return fail(err)
		}
		fmt.Fprintf(vc.Stdout, "terminated %s\n", args[0])
	case "purge":
		if err := h.Purge(ctx, args[0]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(vc.Stdout, "purged %s\n", args[0])
	case "list":
		list, err := h.List(ctx, durable.ListOptions{RuntimeStatus: filter, Limit: *limit, ShowInput: *asJSON})
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			if list == nil {
				list = []*durable.Status{}
			}
			return printJSON(vc.Stdout, list)
		}
		tw := tabwriter.NewWriter(vc.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "INSTANCE\tSTATUS\tNAME\tCREATED\tUPDATED")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.InstanceID, s.RuntimeStatus, s.Name,
				s.CreatedTime.Local().Format(time.DateTime), s.LastUpdatedTime.Local().Format(time.DateTime))
		}
		tw.Flush()
	}
	return lifecycle.ExitOK
}

// interleaved parses fs's flags wherever they stand among args and returns
// the positional arguments, in order.
func interleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errors.New("flags: --hub, --queue (start), --status, --limit, --json (list)")
			}
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
