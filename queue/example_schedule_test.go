package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// exampleClient runs an embedded server in a temp dir for an example.
func exampleClient() (*queue.Client, func()) {
	dir, err := os.MkdirTemp("", "cloudrole-example")
	if err != nil {
		panic(err)
	}
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: dir, Sync: "1m"}})
	if err != nil {
		panic(err)
	}
	c, err := p.Client(context.Background())
	if err != nil {
		panic(err)
	}
	return c, func() { p.Close(); os.RemoveAll(dir) }
}

// A job enqueued to run in an hour waits on the NATS server, scheduled;
// cancelled, it never runs.
func ExampleWithDelay() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	q, err := c.Queue(ctx, "reminders", queue.Config{TrackStatus: true})
	if err != nil {
		panic(err)
	}
	id, err := q.Enqueue(ctx, []byte("call the customer back"), queue.WithID("callback-42"), queue.WithDelay(time.Hour))
	if err != nil {
		panic(err)
	}
	s, _ := q.JobStatus(ctx, id)
	fmt.Println(s.State, time.Until(s.Due).Round(time.Hour))

	if err := q.Cancel(ctx, id); err != nil {
		panic(err)
	}
	s, _ = q.JobStatus(ctx, id)
	fmt.Println(s.State)
	fmt.Println(errors.Is(q.Cancel(ctx, id), queue.ErrAlreadyCancelled))
	// Output:
	// scheduled 1h0m0s
	// cancelled
	// true
}

// Every instance declares the queue's recurring schedule at start: the
// first stores it, the others change nothing, and the server fires it. A
// classic 5-field cron pattern is refused with the 6-field form.
func ExampleQueue_SetSchedule() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	q, err := c.Queue(ctx, "reports", queue.Config{})
	if err != nil {
		panic(err)
	}
	nightly := queue.Schedule{Name: "nightly", Cron: "0 30 2 * * *", TimeZone: "Europe/Amsterdam"}
	for range 3 { // three instances starting
		if err := q.SetSchedule(ctx, nightly, []byte("sales report"), queue.WithPriority(queue.Low)); err != nil {
			panic(err)
		}
	}
	list, _ := q.Schedules(ctx)
	for _, s := range list {
		fmt.Println(s.Name, s.Cron, s.TimeZone, s.Priority, s.Next.Format("15:04:05"))
	}

	err = q.SetSchedule(ctx, queue.Schedule{Name: "hourly", Cron: "0 * * * *"}, nil)
	fmt.Println(errors.Is(err, queue.ErrBadSchedule))
	fmt.Println(err)
	// Output:
	// nightly 0 30 2 * * * Europe/Amsterdam 2 02:30:00
	// true
	// queue "reports": queue: bad schedule: schedule "hourly": CRON spec "0 * * * *" has 5 fields (a 5-field crontab line has no seconds field: prefix it with "0 ", as in "0 0 * * * *"); want 6 fields "second minute hour day month day-of-week", e.g. "0 */5 * * * *" for every 5 minutes
}

// A unique enqueue of a job that is already there returns the first job's
// ID and says it is a duplicate, whatever its priority and however long
// after.
func ExampleWithUnique() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	q, err := c.Queue(ctx, "invoices", queue.Config{})
	if err != nil {
		panic(err)
	}
	unique := queue.WithUnique(queue.Unique{ByID: true})
	id, err := q.Enqueue(ctx, []byte("invoice 7"), queue.WithID("invoice-7"), unique)
	fmt.Println(id, err)
	id, err = q.Enqueue(ctx, []byte("invoice 7"), queue.WithID("invoice-7"), unique, queue.WithPriority(queue.High))
	fmt.Println(id, errors.Is(err, queue.ErrDuplicate))
	// Output:
	// invoice-7 <nil>
	// invoice-7 true
}
