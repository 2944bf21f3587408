package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/tasks"
)

const configFile = "examples/orders/orders.yaml"

// queueConfig is the orders queue: three levels (High, Normal, Low), five
// attempts, quick retries for the demo.
var queueConfig = queue.Config{
	RetryBase: 200 * time.Millisecond,
	RetryMax:  2 * time.Second,
}

type orders struct {
	role.Default
	exitWhenDone bool
	run          string // this process's tag, so a rerun's summary counts its own orders

	enqueued atomic.Bool // once per process: a recycle does not enqueue again
	stats    stats
}

// stats counts this run's orders by outcome; shipped is per level.
type stats struct {
	shipped [3]atomic.Int64
	retries atomic.Int64
	dead    atomic.Int64
	earlier atomic.Int64 // orders left in the queue by an earlier run, or posted to /orders
	last    atomic.Int64 // when the last of this run's orders finished (UnixNano)
}

func (o *orders) Run(ctx context.Context, env role.Env) error {
	total, err := intSetting(env, "Orders", 3000)
	if err != nil {
		return err
	}
	flaky, err := intSetting(env, "FlakyPercent", 5)
	if err != nil {
		return err
	}
	poison, err := intSetting(env, "PoisonPercent", 1)
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
	if o.enqueued.CompareAndSwap(false, true) {
		if err := o.enqueue(ctx, env, q, total, poison); err != nil {
			o.enqueued.Store(false)
			return err
		}
	}

	g := tasks.NewGroup(ctx, tasks.Options{Name: "orders"})
	if err := g.Go("worker", func(ctx context.Context) error {
		// Work blocks until ctx ends, then lets in-flight orders finish.
		return q.Work(ctx, o.handle(env, flaky), queue.WorkerOptions{Concurrency: 8})
	}); err != nil {
		return err
	}
	if err := g.Go("reminders", func(ctx context.Context) error { return workReminders(ctx, env) }); err != nil {
		return err
	}
	start, done := time.Now(), false
	if err := g.Periodic("progress", 2*time.Second, func(ctx context.Context) error {
		if !done && o.report(env, total, start) {
			done = true
			o.summary(env, total, start)
			if o.exitWhenDone {
				env.RequestStop("every order is done (-exit-when-done)")
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return g.Wait()
}

// enqueue puts total orders into the queue in batches: enqueue returns once
// the server stored them and never waits for a worker.
func (o *orders) enqueue(ctx context.Context, env role.Env, q *queue.Queue, total, poison int) error {
	began := time.Now()
	const batch = 500
	for first := 0; first < total; first += batch {
		msgs := make([]queue.Message, 0, batch)
		for n := first; n < min(first+batch, total); n++ {
			prio := []queue.Priority{queue.High, queue.Normal, queue.Normal, queue.Low, queue.Low, queue.Low}[rand.IntN(6)]
			body := fmt.Sprintf("%s order-%d", o.run, n+1)
			if rand.IntN(100) < poison {
				body += " poison"
			}
			msgs = append(msgs, queue.Message{Payload: []byte(body), Options: []queue.EnqueueOption{queue.WithPriority(prio)}})
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			return fmt.Errorf("enqueueing orders: %w", err)
		}
	}
	env.Logger().Info("orders enqueued", "orders", total, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// handle handles one order: most ship, some fail their first attempts,
// poison ones can never succeed.
func (o *orders) handle(env role.Env, flaky int) queue.Handler {
	return func(ctx context.Context, j *queue.Job) error {
		body := string(j.Payload)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(time.Duration(2+rand.IntN(18)) * time.Millisecond): // the work
		}
		mine := strings.HasPrefix(body, o.run+" ")
		switch {
		case strings.HasSuffix(body, " poison"):
			// The queue logs the dead letter with this error.
			if mine {
				o.stats.dead.Add(1)
				o.stats.last.Store(time.Now().UnixNano())
			}
			return queue.Permanent(errors.New("order references an unknown customer"))
		case j.Attempt < 3 && rand.IntN(100) < flaky:
			if mine {
				o.stats.retries.Add(1)
			}
			return fmt.Errorf("payment service busy (attempt %d)", j.Attempt)
		}
		if !mine {
			o.stats.earlier.Add(1)
		} else if p := int(j.Priority); p >= 0 && p < len(o.stats.shipped) {
			o.stats.shipped[p].Add(1)
			o.stats.last.Store(time.Now().UnixNano())
		}
		return nil
	}
}

// report logs progress and says whether every order of this run is done.
func (o *orders) report(env role.Env, total int, start time.Time) bool {
	s := &o.stats
	shipped := s.shipped[0].Load() + s.shipped[1].Load() + s.shipped[2].Load()
	finished := shipped + s.dead.Load()
	env.Logger().Info("progress",
		"high", s.shipped[0].Load(), "normal", s.shipped[1].Load(), "low", s.shipped[2].Load(),
		"done", fmt.Sprintf("%d/%d", finished, total),
		"per_second", int(float64(finished)/time.Since(start).Seconds()),
		"retries", s.retries.Load(), "dead_letters", s.dead.Load())
	return finished >= int64(total)
}

func (o *orders) summary(env role.Env, total int, start time.Time) {
	s := &o.stats
	took := time.Unix(0, s.last.Load()).Sub(start)
	next := "still serving probes on the health address; Ctrl-C to stop"
	if o.exitWhenDone {
		next = "stopping (-exit-when-done)"
	}
	fmt.Printf(`
orders done in %v (%.0f/s)
  shipped   high %d, normal %d, low %d
  retries   %d (failed attempts, retried with backoff)
  dead      %d poison orders: go run ./examples/orders dead-letters
  other     %d orders left by an earlier run or posted to /orders
%s
`, took.Round(time.Millisecond), float64(total)/took.Seconds(),
		s.shipped[0].Load(), s.shipped[1].Load(), s.shipped[2].Load(),
		s.retries.Load(), s.dead.Load(), s.earlier.Load(), next)
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
	o := &orders{run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	cloudrole.MainWith(o, cloudrole.Options{
		DefaultConfig: configFile,
		Verbs:         verbs,
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&o.exitWhenDone, "exit-when-done", false, "stop the role after the summary")
		},
	})
}
