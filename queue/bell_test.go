package queue

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// An idle worker that never polls (PollInterval of an hour) must still
// start every kind of job stored while it is idle: a job is announced on
// its level's bell by whoever stored it — the producer for Enqueue,
// EnqueueBatch and Requeue, the schedule stream for a job falling due.
func TestIdleWorkerIsWokenByBellsWithoutPolling(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "bells", Config{MaxDeliver: 1})
	ctx := context.Background()

	var bells atomic.Int64
	sub, err := c.nc.Subscribe(bellSubject("bells"), func(*nats.Msg) { bells.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	started := make(chan *Job, 16)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		started <- j
		if string(j.Payload) == "fail" {
			return Permanent(errors.New("to the dead letters"))
		}
		return nil
	}, WorkerOptions{Concurrency: 4, PollInterval: time.Hour})

	// One at a time, so the worker has found the level empty (and so is
	// idle) before most of them are stored.
	for i := range 20 {
		before := bells.Load()
		id, err := q.Enqueue(ctx, []byte("one"))
		if err != nil {
			t.Fatal(err)
		}
		if j := recv(t, started, "an enqueued job"); j.ID != id {
			t.Fatalf("job %d: the handler saw ID %q, Enqueue returned %q", i, j.ID, id)
		}
		if !strings.HasPrefix(id, "seq-1-") {
			t.Fatalf("a plain job's ID is %q, want seq-1-<sequence>", id)
		}
		waitFor(t, "the producer's bell", 5*time.Second, func() bool { return bells.Load() > before })
	}

	ids, err := q.EnqueueBatch(ctx, []Message{{Payload: []byte("a")}, {Payload: []byte("b"), Options: []EnqueueOption{WithPriority(High)}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for range 2 {
		got[recv(t, started, "a batch's job").ID] = true
	}
	if !got[ids[0]] || !got[ids[1]] {
		t.Fatalf("batch IDs %v, the handler saw %v", ids, got)
	}

	before := bells.Load()
	if _, err := q.Enqueue(ctx, []byte("due"), WithDelay(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if j := recv(t, started, "a scheduled job falling due"); string(j.Payload) != "due" {
		t.Fatalf("got %q", j.Payload)
	}
	if bells.Load() == before {
		t.Fatal("no bell rang for the scheduled job")
	}

	if _, err := q.Enqueue(ctx, []byte("fail")); err != nil {
		t.Fatal(err)
	}
	failed := recv(t, started, "the failing job")
	var dead []DeadLetter
	waitFor(t, "the dead letter", 5*time.Second, func() bool {
		dead, _ = q.DeadLetters(ctx, 10)
		return len(dead) == 1
	})
	if err := q.Requeue(ctx, failed.ID); err != nil {
		t.Fatal(err)
	}
	if j := recv(t, started, "the requeued job"); j.ID != failed.ID {
		t.Fatalf("requeued job has ID %q, want %q", j.ID, failed.ID)
	}
}
