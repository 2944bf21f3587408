package queue

import (
	"context"
	"testing"
	"time"
)

// ScheduledJobs counts the jobs waiting for their time at every level:
// not recurring schedules, not jobs due now, not a cancelled one.
func TestScheduledJobs(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "counted", Config{})
	ctx := context.Background()
	if n, err := q.ScheduledJobs(ctx); err != nil || n != 0 {
		t.Fatalf("an empty queue: %d, %v", n, err)
	}
	var ids []string
	for _, p := range []Priority{High, Normal, Normal} {
		id, err := q.Enqueue(ctx, nil, WithDelay(time.Hour), WithPriority(p))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := q.Enqueue(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := q.SetSchedule(ctx, Schedule{Name: "hourly", Cron: "0 0 * * * *"}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := q.ScheduledJobs(ctx); err != nil || n != 3 {
		t.Fatalf("three scheduled jobs counted as %d, %v", n, err)
	}
	if err := q.Cancel(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if n, err := q.ScheduledJobs(ctx); err != nil || n != 2 {
		t.Fatalf("after a cancel: %d, %v", n, err)
	}
}
