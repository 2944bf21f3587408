package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// A worker declares the queue it serves; a producer that declares other
// settings is refused and changes nothing, and opens the queue as stored
// instead.
func ExampleClient_OpenQueue() {
	dir, err := os.MkdirTemp("", "cloudrole-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: dir}})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()
	c, err := p.Client(ctx)
	if err != nil {
		panic(err)
	}

	// The worker's declaration creates the queue.
	if _, err := c.Queue(ctx, "thumbs", queue.Config{MaxBacklog: 2, AckWait: 3 * time.Second}); err != nil {
		panic(err)
	}

	// A producer declaring the defaults is refused.
	_, err = c.Queue(ctx, "thumbs", queue.Config{})
	fmt.Println(errors.Is(err, queue.ErrConfigMismatch))
	var mm *queue.ConfigMismatchError
	if errors.As(err, &mm) {
		for _, d := range mm.Diffs {
			fmt.Printf("%s: stored %s, declared %s\n", d.Setting, d.Stored, d.Declared)
		}
	}

	// It uses the queue as the worker declared it.
	q, err := c.OpenQueue(ctx, "thumbs")
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Config().MaxBacklog, q.Config().AckWait)
	// Output:
	// true
	// AckWait: stored 3s, declared 30s
	// MaxBacklog: stored 2, declared 0 (unlimited)
	// 2 3s
}
