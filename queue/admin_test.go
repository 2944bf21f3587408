package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The operator's view and actions: names, per-level figures, dead letters
// paged, re-queued all at once, purges.
func TestOperatorCalls(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	q := testQueue(t, c, "ops", Config{MaxDeliver: 1})
	testQueue(t, c, "other", Config{})
	names, err := c.QueueNames(ctx)
	if err != nil || len(names) != 2 || names[0] != "ops" || names[1] != "other" {
		t.Fatalf("names %v, %v", names, err)
	}
	for range 3 {
		q.Enqueue(ctx, []byte("x"), WithPriority(High))
	}
	q.Enqueue(ctx, []byte("y"), WithPriority(Low))
	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Waiting[0] != 3 || st.Waiting[2] != 1 || st.Enqueued[0] != 3 || st.Oldest.IsZero() || time.Since(st.Oldest) > time.Minute {
		t.Fatalf("stats %+v", st)
	}
	// Everything fails once: 4 dead letters.
	stop := startWorker(t, ctx, q, func(context.Context, *Job) error { return errors.New("no") }, WorkerOptions{})
	waitFor(t, "4 dead letters", 10*time.Second, func() bool { st, _ := q.Stats(ctx); return st.DeadLetters == 4 })
	stop()
	page, err := q.DeadLettersAfter(ctx, 0, 3)
	if err != nil || len(page) != 3 {
		t.Fatalf("first page %d, %v", len(page), err)
	}
	rest, err := q.DeadLettersAfter(ctx, page[2].Seq, 3)
	if err != nil || len(rest) != 1 {
		t.Fatalf("second page %d, %v", len(rest), err)
	}
	n, err := q.RequeueAll(ctx)
	if err != nil || n != 4 {
		t.Fatalf("requeued %d, %v", n, err)
	}
	if st, _ := q.Stats(ctx); st.DeadLetters != 0 || st.Waiting[0] != 3 || st.Waiting[2] != 1 {
		t.Fatalf("after requeue all: %+v", st)
	}
	if n, err := q.Purge(ctx); err != nil || n != 4 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if st, _ := q.Stats(ctx); st.Waiting[0]+st.Waiting[1]+st.Waiting[2] != 0 {
		t.Fatalf("after purge: %+v", st)
	}
}
