package cloudrole

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/role"
)

// checkJobsDir loads the config's jobs folder as the host will, so that a
// bad job folder (a settings.job with an unknown key, no runnable file)
// stops run and validate with exit code 3 before anything starts, naming
// the file, line and key. It returns -1 when the folder is fine.
func checkJobsDir(cfg *config.Config, opts Options) int {
	if cfg.Jobs.Dir == "" {
		return -1
	}
	loc, _ := time.LoadLocation(cfg.Jobs.TimeZone) // checked by config
	loaded, problems := jobs.LoadDir(cfg.Jobs.Dir, loc)
	names := map[string]bool{}
	for _, p := range cfg.Jobs.Programs {
		names[p.Name] = true
	}
	for _, j := range loaded {
		if names[j.Name] {
			problems = append(problems, jobs.Problem{Path: cfg.Jobs.Dir, Error: fmt.Sprintf("%s: job %q is also a program of the config (jobs.programs)", cfg.Jobs.Dir, j.Name)})
		}
	}
	if len(problems) == 0 {
		return -1
	}
	fmt.Fprintf(opts.Stderr, "%s: invalid config:\n", opts.Name)
	for _, p := range problems {
		fmt.Fprintln(opts.Stderr, p.Error)
	}
	return lifecycle.ExitConfig
}

const jobsUsage = `usage: %[1]s jobs [--config FILE]                 the jobs of the running role, with their last run
       %[1]s jobs run NAME [ARGS...]            start a run; prints its ID
       %[1]s jobs get ID                        show a run
       %[1]s jobs wait ID                       wait for a run to end (exit 0 if Completed, 1 if not)
       %[1]s jobs receive ID [--keep]           print the output not yet received (--keep: all of it, handing nothing over)
       %[1]s jobs stop ID                       stop a run and wait for it to end
       %[1]s jobs history NAME                  a job's runs, newest first
They talk to the running role over its NATS (nats.url, or the embedded server of the role on
this machine, found through its store lock); they never start a server.
`

// jobsVerb is the jobs verb: the Go client's control on the command line.
func jobsVerb(ctx context.Context, _ role.Role, inv *invocation, opts Options) int {
	usage := func() int {
		fmt.Fprintf(opts.Stderr, jobsUsage, opts.Name)
		return lifecycle.ExitUsage
	}
	sub, args := "", inv.args
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	keep := false
	need := map[string]int{"": 0, "get": 1, "wait": 1, "receive": 1, "stop": 1, "history": 1}
	switch sub {
	case "run":
		if len(args) == 0 {
			return usage()
		}
	case "receive":
		var rest []string
		for _, a := range args {
			if a == "--keep" || a == "-keep" {
				keep = true
				continue
			}
			rest = append(rest, a)
		}
		args = rest
		fallthrough
	default:
		n, ok := need[sub]
		if !ok || len(args) != n || (n == 1 && strings.HasPrefix(args[0], "-")) {
			return usage()
		}
	}

	cfg, _, code := loadConfig(inv, opts)
	if cfg == nil {
		return code
	}
	vc := &VerbContext{Name: opts.Name, Args: inv.args, Config: cfg, Stdout: opts.Stdout, Stderr: opts.Stderr}
	defer vc.close()
	ctx, stop := signalContext(ctx)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(opts.Stderr, "%s jobs: %v\n", opts.Name, err)
		return lifecycle.ExitError
	}
	qc, err := vc.Queues(ctx)
	if err != nil {
		return fail(err)
	}
	c, err := jobs.NewClient(ctx, qc, jobs.ClientOptions{Replicas: cfg.Jobs.Replicas})
	if err != nil {
		return fail(err)
	}
	out := opts.Stdout
	switch sub {
	case "":
		err = listJobs(ctx, c, out)
	case "run":
		var id string
		if id, err = c.Start(ctx, args[0], jobs.StartOptions{Args: args[1:], Trigger: jobs.TriggerManual}); err == nil {
			fmt.Fprintln(out, id)
		}
	case "get":
		var r jobs.Run
		if r, err = c.Get(ctx, args[0]); err == nil {
			printRun(out, r)
		}
	case "wait":
		var r jobs.Run
		if r, err = c.Wait(ctx, args[0]); err == nil {
			printEnd(out, r)
			if r.State != jobs.Completed {
				return lifecycle.ExitError
			}
		}
	case "receive":
		err = c.ReceiveFunc(ctx, args[0], jobs.ReceiveOptions{Keep: keep}, func(l jobs.Line) error {
			_, err := fmt.Fprintln(out, jobs.FormatLine(l))
			return err
		})
	case "stop":
		var r jobs.Run
		if r, err = c.Stop(ctx, args[0]); err == nil && !r.State.Terminal() {
			fmt.Fprintf(out, "%s: stop requested; waiting for it to end\n", r.ID)
			r, err = c.Wait(ctx, args[0])
		}
		if err == nil {
			printEnd(out, r)
		}
	case "history":
		err = history(ctx, c, out, args[0])
	}
	if err != nil {
		if errors.Is(err, jobs.ErrBadArgs) || errors.Is(err, jobs.ErrBadRunID) {
			fmt.Fprintf(opts.Stderr, "%s jobs: %v\n", opts.Name, err)
			return lifecycle.ExitUsage
		}
		return fail(err)
	}
	return lifecycle.ExitOK
}

func listJobs(ctx context.Context, c *jobs.Client, out io.Writer) error {
	defs, err := c.Jobs(ctx)
	if err != nil {
		return err
	}
	if len(defs) == 0 {
		fmt.Fprintln(out, "no jobs: no running instance defines one")
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSCHEDULE\tSINGLETON\tLAST RUN\tSTATE")
	for _, d := range defs {
		last, state := "-", "-"
		if runs, err := c.List(ctx, jobs.Filter{Job: d.Name, Limit: 1}); err == nil && len(runs) > 0 {
			last, state = runs[0].ID, string(runs[0].State)
		}
		sched := d.Schedule
		if sched == "" {
			sched = "-"
		} else if d.TimeZone != "" && d.TimeZone != "UTC" {
			sched += " (" + d.TimeZone + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", d.Name, d.Kind, sched, d.Singleton, last, state)
	}
	return tw.Flush()
}

func history(ctx context.Context, c *jobs.Client, out io.Writer, name string) error {
	runs, err := c.List(ctx, jobs.Filter{Job: name})
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintf(out, "no runs of %s stored\n", name)
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTRIGGER\tSTARTED\tDURATION\tINSTANCE\tRESULT")
	now := time.Now()
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Trigger.Type, stamp(r.StartedAt),
			dur(r, now), dash(r.Instance), result(r))
	}
	return tw.Flush()
}

func printRun(out io.Writer, r jobs.Run) {
	now := time.Now()
	tw := tabwriter.NewWriter(out, 2, 4, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("ID", r.ID)
	row("Job", r.Job+" ("+string(r.Kind)+")")
	row("State", string(r.State))
	row("HasMoreData", fmt.Sprint(r.HasMoreData))
	trigger := string(r.Trigger.Type)
	if !r.Trigger.Fire.IsZero() {
		trigger += " at " + stamp(r.Trigger.Fire)
	}
	row("Trigger", trigger)
	if len(r.Trigger.Args) > 0 {
		row("Args", fmt.Sprintf("%q", r.Trigger.Args))
	}
	row("Instance", dash(r.Instance))
	row("Created", stamp(r.CreatedAt))
	row("Started", stamp(r.StartedAt))
	row("Ended", stamp(r.EndedAt))
	row("Duration", dur(r, now))
	if r.ExitCode != nil {
		row("ExitCode", fmt.Sprint(*r.ExitCode))
	}
	if r.Error != "" {
		row("Error", r.Error)
	}
	row("Output", fmt.Sprintf("%d lines, %d bytes", r.Lines, r.OutputBytes))
	if r.Dropped > 0 {
		row("Dropped", fmt.Sprintf("%d oldest lines (over jobs.history_size)", r.Dropped))
	}
	tw.Flush()
}

func printEnd(out io.Writer, r jobs.Run) {
	fmt.Fprintf(out, "%s: %s%s\n", r.ID, r.State, func() string {
		if s := result(r); s != "-" && s != "exit 0" {
			return " (" + s + ")"
		}
		return ""
	}())
}

func result(r jobs.Run) string {
	switch {
	case r.Error != "":
		return r.Error
	case r.ExitCode != nil:
		return fmt.Sprintf("exit %d", *r.ExitCode)
	}
	return "-"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func dur(r jobs.Run, now time.Time) string {
	if r.StartedAt.IsZero() {
		return "-"
	}
	return r.Duration(now).Round(time.Millisecond).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
