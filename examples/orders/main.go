// Command orders is the queue demo: a role that enqueues a stream of orders
// at high, normal and low priority and works them with four handlers. Some
// orders fail once and are retried with backoff; a few are poison and go to
// the dead-letter stream at once. Progress (processed per level, rate,
// retries, dead letters) is logged every second and shown under /status as
// the "queue:orders" section.
//
//	go run ./examples/orders                       # embedded NATS under the data dir
//	curl localhost:8081/status
//	go run ./examples/orders dlq list              # list dead letters (role stopped)
//	go run ./examples/orders dlq requeue <seq|id>  # put one back
//
// Add -url nats://host:4222 after "dlq" to use an external server.
//
// The host does not yet put a queue.Provider into the hook context; until
// it does, this example makes its own (see clientFor).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

type orders struct {
	role.Default

	own       *queue.Provider // only while the host does not provide one
	q         *queue.Queue
	perLevel  [3]atomic.Int64
	retries   atomic.Int64
	total     int
	started   time.Time
	doneCount atomic.Int64
}

// clientFor returns the host's queue client, or one from a provider of the
// example's own (embedded, under the data dir) when the host has none.
func (o *orders) clientFor(ctx context.Context, env role.Env) (*queue.Client, error) {
	c, err := queue.Connect(ctx)
	if !errors.Is(err, queue.ErrNoProvider) {
		return c, err
	}
	if o.own == nil {
		p, err := queue.NewProvider(queue.Options{
			StoreDir: filepath.Join(env.DataDir(), "nats"),
			Logger:   env.Logger(),
			Name:     "orders",
		})
		if err != nil {
			return nil, err
		}
		o.own = p
	}
	return o.own.Client(ctx)
}

func (o *orders) OnStart(ctx context.Context, env role.Env) error {
	c, err := o.clientFor(ctx, env)
	if err != nil {
		return err
	}
	o.q, err = c.Queue(ctx, "orders", queue.Config{
		MaxDeliver: 5,
		RetryBase:  200 * time.Millisecond,
		MaxBacklog: 100_000,
	})
	return err
}

func setting(env role.Env, name string, def int) int {
	s, err := env.Setting(name)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return def
	}
	return n
}

func (o *orders) Run(ctx context.Context, env role.Env) error {
	log := env.Logger()
	o.total = setting(env, "Orders", 3000)
	poison := setting(env, "PoisonEvery", 997)
	flaky := setting(env, "FlakyEvery", 50)
	o.started = time.Now()

	var wg sync.WaitGroup
	wg.Go(func() { o.produce(ctx, env, poison, flaky) })
	wg.Go(func() { o.progress(ctx, env) })

	err := o.q.Work(ctx, func(ctx context.Context, j *queue.Job) error {
		if j.Headers.Get("Kind") == "poison" {
			return queue.Permanent(fmt.Errorf("order %s: unknown product", j.ID))
		}
		if j.Headers.Get("Kind") == "flaky" && j.Attempt == 1 {
			o.retries.Add(1)
			return fmt.Errorf("order %s: payment service timed out", j.ID)
		}
		// The work: a few milliseconds of "processing".
		t := time.NewTimer(2 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		o.perLevel[j.Priority].Add(1)
		o.doneCount.Add(1)
		return nil
	}, queue.WorkerOptions{Concurrency: 4, Aging: 2 * time.Second})
	wg.Wait()
	if err != nil {
		return err
	}
	log.Info("orders: stopped", "summary", o.summary())
	return nil
}

// produce enqueues the orders in batches: 20% high, 50% normal, 30% low.
func (o *orders) produce(ctx context.Context, env role.Env, poison, flaky int) {
	const batch = 100
	for i := 0; i < o.total && ctx.Err() == nil; i += batch {
		msgs := make([]queue.Message, 0, batch)
		for n := i; n < min(i+batch, o.total); n++ {
			prio := queue.Normal
			switch n % 10 {
			case 0, 1:
				prio = queue.High
			case 7, 8, 9:
				prio = queue.Low
			}
			kind := "plain"
			switch {
			case n%poison == poison-1:
				kind = "poison"
			case n%flaky == flaky-1:
				kind = "flaky"
			}
			msgs = append(msgs, queue.Message{
				Payload: fmt.Appendf(nil, `{"order":%d}`, n),
				Options: []queue.EnqueueOption{
					queue.WithID(fmt.Sprintf("order-%d", n)), // safe to re-run: deduplicated
					queue.WithPriority(prio),
					queue.WithHeader("Kind", kind),
				},
			})
		}
		if _, err := o.q.EnqueueBatch(ctx, msgs); err != nil {
			env.Logger().Warn("orders: enqueue", "err", err)
		}
	}
}

func (o *orders) progress(ctx context.Context, env role.Env) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	reported := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		env.Logger().Info("orders: progress", "summary", o.summary())
		if !reported && o.doneCount.Load() > 0 && o.q.Config().Levels == 3 {
			st, _ := o.q.DeadLetters(ctx, 1000)
			if int(o.doneCount.Load())+len(st) >= o.total {
				reported = true
				env.Logger().Info("orders: all orders handled; still serving probes until interrupted", "summary", o.summary(), "dead_letters", len(st))
			}
		}
	}
}

func (o *orders) summary() string {
	el := time.Since(o.started).Seconds()
	done := o.doneCount.Load()
	return fmt.Sprintf("processed high=%d normal=%d low=%d (%.0f/s), retries=%d",
		o.perLevel[0].Load(), o.perLevel[1].Load(), o.perLevel[2].Load(), float64(done)/max(el, 0.001), o.retries.Load())
}

func (o *orders) OnStop(ctx context.Context, env role.Env) error {
	if o.own != nil {
		err := o.own.Close()
		o.own = nil
		return err
	}
	return nil
}

// dlq is the small dead-letter CLI: "dlq [-url U] [-data DIR] list" and
// "dlq [-url U] [-data DIR] requeue <seq|id>". Run it while the role is
// stopped when using the embedded server (it opens the same store).
func dlq(args []string) int {
	fs := flag.NewFlagSet("dlq", flag.ContinueOnError)
	url := fs.String("url", "", "external NATS URL (default: the embedded store under -data)")
	data := fs.String("data", "data/orders", "the role's data dir")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := queue.Options{URL: *url}
	if *url == "" {
		opts.StoreDir = filepath.Join(*data, "nats")
	}
	p, err := queue.NewProvider(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p.Client(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	q, err := c.Queue(ctx, "orders", queue.Config{MaxDeliver: 5, RetryBase: 200 * time.Millisecond, MaxBacklog: 100_000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch fs.Arg(0) {
	case "list":
		dl, err := q.DeadLetters(ctx, 1000)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, d := range dl {
			fmt.Printf("%d\t%s\tpriority=%d\tattempts=%d\t%s\t%s\n", d.Seq, d.ID, d.Priority, d.Attempts, d.DeadAt.Format(time.RFC3339), d.Error)
		}
		return 0
	case "requeue":
		if fs.NArg() != 2 {
			fmt.Fprintln(os.Stderr, "usage: dlq requeue <seq|id>")
			return 2
		}
		if err := q.Requeue(ctx, fs.Arg(1)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("re-queued", fs.Arg(1))
		return 0
	default:
		fmt.Fprintln(os.Stderr, "usage: orders dlq [-url U] [-data DIR] list | requeue <seq|id>")
		return 2
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "dlq" {
		os.Exit(dlq(os.Args[2:]))
	}
	cloudrole.MainWith(&orders{}, cloudrole.Options{DefaultConfig: "examples/orders/orders.yaml"})
}
