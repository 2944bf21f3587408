package jobs_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/queue"
)

// A triggered Go job, started by a client with arguments: its run ID comes
// back at once, Wait returns the ended run, Receive its output.
func Example() {
	dir, _ := os.MkdirTemp("", "jobs-example")
	defer os.RemoveAll(dir)
	p, _ := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: dir, Sync: "1m"}})
	defer p.Close()
	ctx := context.Background()

	r, _ := jobs.NewRunner(jobs.Options{Connect: p.Client, Instance: "worker-1", DataDir: dir})
	_ = r.Add(jobs.Job{Name: "greet", Func: func(ctx context.Context, inv *jobs.Invocation) error {
		inv.Printf("hello, %s", strings.Join(inv.Args, " "))
		return nil
	}})
	_ = r.Start(ctx)
	defer r.Stop(ctx)

	c, _ := r.Client(ctx)
	var id string
	for { // until the runner has published its jobs
		var err error
		if id, err = c.Start(ctx, "greet", jobs.StartOptions{Args: []string{"world"}}); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	run, _ := c.Wait(ctx, id)
	fmt.Println(run.Job, run.State, run.Instance)
	lines, _ := c.Receive(ctx, id, jobs.ReceiveOptions{})
	for _, l := range lines {
		fmt.Println(l.Level(), l.Text)
	}
	again, _ := c.Receive(ctx, id, jobs.ReceiveOptions{})
	fmt.Println("received again:", len(again))
	// Output:
	// greet Completed worker-1
	// INFO hello, world
	// received again: 0
}
