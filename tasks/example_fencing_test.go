package tasks_test

import (
	"context"
	"fmt"

	"github.com/cloudrole/cloudrole/tasks"
)

// A Singleton task reads its lease's fencing token from its context and
// passes it with every write the lock protects (queue.FencedPut on NATS
// KV), so that an instance which lost the lock without noticing is refused
// rather than overwriting the work of the one that took over.
func ExampleFencingToken() {
	ctx, stop := context.WithCancel(context.Background())
	g := tasks.NewGroup(ctx, tasks.Options{Name: "billing"})
	wrote := make(chan struct{})
	_ = g.Go("invoicer", func(ctx context.Context) error {
		token, ok := tasks.FencingToken(ctx)
		fmt.Println("write under token", token, ok) // e.g. queue.FencedPut(ctx, kv, key, value, token)
		close(wrote)
		<-ctx.Done()
		return nil
	}, tasks.Singleton(tasks.NewLocalLocker(nil)))
	<-wrote

	_, ok := tasks.FencingToken(ctx) // not a Singleton task's context
	fmt.Println(ok)
	stop()
	fmt.Println(g.Wait())
	// Output:
	// write under token 1 true
	// false
	// <nil>
}
