package roletest_test

import (
	"context"
	"fmt"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// thumbnailer works the "thumbs" queue for as long as it runs.
type thumbnailer struct {
	role.Default
	done chan string
}

func (r *thumbnailer) Run(ctx context.Context, _ role.Env) error {
	c, err := queue.Connect(ctx) // the provider comes with the hook's context
	if err != nil {
		return err
	}
	q, err := c.Queue(ctx, "thumbs", queue.Config{})
	if err != nil {
		return err
	}
	return q.Work(ctx, func(_ context.Context, j *queue.Job) error {
		r.done <- string(j.Payload)
		return nil
	}, queue.WorkerOptions{})
}

// A role that uses a queue runs under roletest against a real embedded
// server; the test enqueues through the context Queues returned.
func ExampleQueues() {
	t := testutil.NewTB() // in a test: its *testing.T
	defer t.Finish()

	p, ctx := roletest.Queues(t)
	r := &thumbnailer{done: make(chan string)}
	inst := roletest.Start(roletest.NewEnv(t, roletest.Options{Queues: p}), r)

	c, err := queue.Connect(ctx)
	if err != nil {
		panic(err)
	}
	q, err := c.Queue(ctx, "thumbs", queue.Config{})
	if err != nil {
		panic(err)
	}
	if _, err := q.Enqueue(ctx, []byte("cat.jpg")); err != nil {
		panic(err)
	}
	fmt.Println("handled", <-r.done)
	fmt.Println(inst.Stop(nil).Run)
	// Output:
	// handled cat.jpg
	// <nil>
}
