package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
)

// A role's Run starts its tasks in a group and returns what the group's Wait
// returns: nil when Run's context ends.
func Example() {
	ctx, stop := context.WithCancel(context.Background()) // Run's context
	g := tasks.NewGroup(ctx, tasks.Options{Name: "worker"})

	ready := make(chan struct{})
	_ = g.Go("poller", func(ctx context.Context) error {
		fmt.Println("polling")
		close(ready)
		<-ctx.Done() // work until the role stops
		return nil
	})
	<-ready
	stop() // the host stops the role
	fmt.Println("Run returns:", g.Wait())
	// Output:
	// polling
	// Run returns: <nil>
}

// A task that returns an error marked with Fatal ends the whole group, and
// Wait says which task did it; Run returns that error so the host recycles
// the role.
func ExampleFatal() {
	g := tasks.NewGroup(context.Background(), tasks.Options{})
	_ = g.Go("billing", func(context.Context) error {
		return fmt.Errorf("charging: %w", tasks.Fatal(errors.New("card processor unreachable")))
	})
	err := g.Wait()
	fmt.Println(err)
	var fe *tasks.FatalError
	if errors.As(err, &fe) {
		fmt.Println("task:", fe.Task)
	}
	// Output:
	// task "billing": fatal: charging: card processor unreachable
	// task: billing
}

// A task that panics is restarted after a growing delay; events (or the
// logs) show it. Here a fake clock stands in for time.
func ExampleOptions_onEvent() {
	clk := clockwork.NewFakeClock()
	ctx, stop := context.WithCancel(context.Background())
	restarts := make(chan tasks.EventBackoff)
	g := tasks.NewGroup(ctx, tasks.Options{
		Name:        "worker",
		Clock:       clk,
		BackoffBase: time.Second,
		OnEvent: func(e tasks.Event) {
			switch e := e.(type) {
			case tasks.EventPanic:
				fmt.Println(e)
			case tasks.EventBackoff:
				restarts <- e
			}
		},
	})
	runs := 0
	works := make(chan struct{})
	_ = g.Go("flaky", func(ctx context.Context) error {
		runs++
		if runs < 3 {
			panic(fmt.Sprint("bad input #", runs))
		}
		fmt.Println("run", runs, "works")
		close(works)
		<-ctx.Done()
		return nil
	})
	for range 2 {
		e := <-restarts
		fmt.Println("restart", e.Restarts)
		_ = clk.BlockUntilContext(ctx, 1) // the task waits its delay
		clk.Advance(e.Delay)
	}
	<-works
	stop()
	_ = g.Wait()
	// Output:
	// worker/flaky: panic: bad input #1
	// restart 1
	// worker/flaky: panic: bad input #2
	// restart 2
	// run 3 works
}

// A CRON spec has six fields, seconds first, as in WebJobs and Azure
// Functions; anything else is rejected when the task is added.
func ExampleGroup_Cron() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	g := tasks.NewGroup(ctx, tasks.Options{})
	report := func(context.Context) error { return nil }

	fmt.Println(g.Cron("report", "0 */5 * * * *", report, tasks.Misfire(tasks.Skip)))
	fmt.Println(g.Cron("cleanup", "*/5 * * * *", report))
	for _, st := range g.Status().Tasks {
		fmt.Println(st.Name, st.Kind, st.Schedule)
	}
	// Output:
	// <nil>
	// tasks: invalid task: Cron "cleanup": CRON spec "*/5 * * * *" has 5 fields (a 5-field crontab line has no seconds field: prefix it with "0 ", as in "0 */5 * * * *"); want 6 fields "second minute hour day month day-of-week", e.g. "0 */5 * * * *" for every 5 minutes
	// report cron 0 */5 * * * *
}

// LocalLocker hands out leases within one process; fencing tokens grow with
// every new holder.
func ExampleNewLocalLocker() {
	ctx := context.Background()
	locks := tasks.NewLocalLocker(nil)
	a, _ := locks.Acquire(ctx, "nightly", "instance-a", 15*time.Second)
	_, err := locks.Acquire(ctx, "nightly", "instance-b", 15*time.Second)
	fmt.Println(a.Token(), errors.Is(err, tasks.ErrLockHeld))
	_ = a.Release(ctx)
	b, _ := locks.Acquire(ctx, "nightly", "instance-b", 15*time.Second)
	fmt.Println(b.Token(), errors.Is(a.Renew(ctx), tasks.ErrLeaseLost))
	// Output:
	// 1 true
	// 2 true
}
