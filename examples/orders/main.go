// Command orders is cloudrole's main demo: a worker role that takes orders
// from a durable priority queue on an embedded NATS JetStream server — no
// setup, nothing to install.
//
// A producer task enqueues orders at high, normal and low priority; a
// worker handles four at a time, always taking the most urgent first. Some
// orders fail for a while and are retried with backoff (the attempt count
// is in the log); poison orders go to the dead-letter queue at once, with
// their error. Everything shows in /status.
//
//	go run ./examples/orders                  # run the role (Ctrl-C stops it gracefully)
//	curl -s localhost:8080/status             # tasks, worker figures, NATS connection
//	go run ./examples/orders dead-letters     # list dead letters (while the role runs)
//	go run ./examples/orders requeue SEQ|ID   # put one back into the queue
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/tasks"
)

const configFile = "examples/orders/orders.yaml"

// queueConfig is the orders queue: three levels, five attempts, quick
// retries for the demo, job status kept for lookups.
var queueConfig = queue.Config{
	RetryBase:   500 * time.Millisecond,
	RetryMax:    5 * time.Second,
	TrackStatus: true,
}

type orders struct {
	role.Default
}

func (orders) Run(ctx context.Context, env role.Env) error {
	perSecond, err := intSetting(env, "OrdersPerSecond", 8)
	if err != nil {
		return err
	}
	flaky, err := intSetting(env, "FlakyPercent", 15)
	if err != nil {
		return err
	}
	poison, err := intSetting(env, "PoisonPercent", 3)
	if err != nil {
		return err
	}

	// The host owns the connection (and the embedded server): it outlives
	// recycles and is closed after the last OnStop.
	c, err := queue.Connect(ctx)
	if err != nil {
		return err
	}
	q, err := c.Queue(ctx, "orders", queueConfig)
	if err != nil {
		return err
	}

	g := tasks.NewGroup(ctx, tasks.Options{Name: "orders"})
	if err := g.Go("producer", func(ctx context.Context) error {
		return produce(ctx, env, q, perSecond, poison)
	}); err != nil {
		return err
	}
	if err := g.Go("worker", func(ctx context.Context) error {
		// Work blocks until ctx ends, then lets in-flight orders finish.
		return q.Work(ctx, handler(env, flaky), queue.WorkerOptions{Concurrency: 4})
	}); err != nil {
		return err
	}
	return g.Wait()
}

// produce enqueues perSecond orders a second until ctx ends. Enqueue never
// waits for workers: the queue levels the load.
func produce(ctx context.Context, env role.Env, q *queue.Queue, perSecond, poison int) error {
	if perSecond <= 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		prio := []queue.Priority{queue.High, queue.Normal, queue.Normal, queue.Low, queue.Low, queue.Low}[rand.IntN(6)]
		body := fmt.Sprintf("order-%d", n)
		if rand.IntN(100) < poison {
			body += " poison"
		}
		if _, err := q.Enqueue(ctx, []byte(body), queue.WithPriority(prio)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err // the task restarts after a backoff
		}
	}
}

// handler handles one order: most succeed, some fail for a few attempts,
// poison ones can never succeed.
func handler(env role.Env, flaky int) queue.Handler {
	return func(ctx context.Context, j *queue.Job) error {
		log := env.Logger().With("order", string(j.Payload), "priority", j.Priority, "attempt", j.Attempt)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(time.Duration(50+rand.IntN(250)) * time.Millisecond): // the work
		}
		switch {
		case len(j.Payload) > 7 && string(j.Payload[len(j.Payload)-6:]) == "poison":
			log.Warn("poison order: dead-lettering it")
			return queue.Permanent(errors.New("order references an unknown customer"))
		case j.Attempt < 3 && rand.IntN(100) < flaky:
			log.Info("payment service busy; will retry")
			return errors.New("payment service busy")
		}
		log.Info("order shipped", "waited", time.Since(j.EnqueuedAt).Round(time.Millisecond))
		return j.SetResult([]byte("shipped"))
	}
}

func intSetting(env role.Env, name string, def int) (int, error) {
	s := role.StringOr(env, name, strconv.Itoa(def))
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("setting %s: want a non-negative integer, got %q", name, s)
	}
	return n, nil
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "dead-letters", "requeue":
			os.Exit(deadLetterVerb(os.Args[1], os.Args[2:]))
		}
	}
	cloudrole.MainWith(orders{}, cloudrole.Options{DefaultConfig: configFile})
}
