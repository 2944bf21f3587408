package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/role"
)

const configFile = "examples/jobs/jobs.yaml"

// demo adds its Go jobs in OnStart; the host runs them, and the programs
// of its config's jobs folder, once OnStart has returned.
type demo struct{ role.Default }

func (demo) OnStart(ctx context.Context, env role.Env) error {
	if err := jobs.Add(ctx, jobs.Job{Name: "report", Func: report}); err != nil {
		return err
	}
	return jobs.Add(ctx, jobs.Job{Name: "leader", Kind: jobs.Continuous, Singleton: true, Func: leader})
}

// report is a triggered Go job: it "builds" a report for the period its
// arguments name, a line of progress at a time; "fail" makes it fail.
func report(ctx context.Context, inv *jobs.Invocation) error {
	period := strings.Join(inv.Args, " ")
	if period == "" {
		period = "daily"
	}
	inv.Printf("report %s: started on %s", period, inv.Instance)
	for i, part := range []string{"orders", "refunds", "stock"} {
		select {
		case <-time.After(700 * time.Millisecond):
		case <-ctx.Done():
			fmt.Fprintf(inv.Stderr, "report %s: stopped after %d of 3 parts\n", period, i)
			return ctx.Err()
		}
		inv.Printf("report %s: %s done (%d/3)", period, part, i+1)
	}
	if period == "fail" {
		fmt.Fprintln(inv.Stderr, "report fail: the numbers do not add up")
		return errors.New("report does not balance")
	}
	inv.Printf("report %s: written", period)
	return nil
}

// leader is a continuous singleton: one instance of the fleet runs it; if
// that one stops, another takes over.
func leader(ctx context.Context, inv *jobs.Invocation) error {
	inv.Printf("leader: running on %s", inv.Instance)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-tick.C:
			inv.Printf("leader: still leading (%d)", n)
		case <-ctx.Done():
			inv.Printf("leader: stepping down")
			return nil
		}
	}
}

func main() { cloudrole.MainWith(demo{}, cloudrole.Options{DefaultConfig: configFile}) }
