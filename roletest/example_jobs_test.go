package roletest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// reporter adds a Go job in OnStart, as a role does under the host.
type reporter struct{ role.Default }

func (reporter) OnStart(ctx context.Context, _ role.Env) error {
	return jobs.Add(ctx, jobs.Job{Name: "report", Func: func(ctx context.Context, inv *jobs.Invocation) error {
		inv.Printf("report for %s", inv.Args[0])
		return nil
	}})
}

// A role that adds jobs, tested with a real runner on an embedded server:
// Options.Jobs puts the runner in the hooks' context, and the Instance
// starts it after OnStart and stops it before OnStop, as the host does.
func ExampleOptions_jobs() {
	t := &testutil.TB{}
	defer t.Finish()
	p, ctx := roletest.Queues(t)
	runner, _ := jobs.NewRunner(jobs.Options{Connect: p.Client, DataDir: t.TempDir()})
	env := roletest.NewEnv(t, roletest.Options{Queues: p, Jobs: runner})
	inst := roletest.Start(env, reporter{})
	if err := inst.WaitStarted(ctx); err != nil {
		fmt.Println(err)
		return
	}
	c, _ := runner.Client(ctx)
	var id string
	for { // until the runner has published the job
		var err error
		if id, err = c.Start(ctx, "report", jobs.StartOptions{Args: []string{"march"}}); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	run, _ := c.Wait(ctx, id)
	lines, _ := c.Receive(ctx, id, jobs.ReceiveOptions{})
	fmt.Println(run.State, lines[0].Text)
	res := inst.Stop(nil)
	fmt.Println("OnStop:", res.OnStop)
	// Output:
	// Completed report for march
	// OnStop: <nil>
}
