package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// jobState is job id's state now, or "" when it has no status.
func jobState(t testing.TB, q *Queue, id string) State {
	t.Helper()
	s, err := q.JobStatus(context.Background(), id)
	if err != nil {
		return ""
	}
	return s.State
}

func TestCancelQueuedJobNeverRuns(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "cq", Config{TrackStatus: true})
	ctx := context.Background()
	for _, id := range []string{"doomed", "kept"} {
		if _, err := q.Enqueue(ctx, []byte(id), WithID(id)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "queued status", 5*time.Second, func() bool { return jobState(t, q, "doomed") == StateQueued })
	if err := q.Cancel(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if st := jobState(t, q, "doomed"); st != StateCancelled {
		t.Fatalf("state after Cancel %q", st)
	}
	var events []JobCancelled
	var mu sync.Mutex
	defer c.Observe(func(e Event) {
		if ce, ok := e.(JobCancelled); ok {
			mu.Lock()
			events = append(events, ce)
			mu.Unlock()
		}
	})()
	ran := make(chan string, 2)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { ran <- j.ID; return nil }, WorkerOptions{})
	if id := recv(t, ran, "the kept job"); id != "kept" {
		t.Fatalf("ran %q", id)
	}
	waitFor(t, "the cancelled job terminated", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
	select {
	case id := <-ran:
		t.Fatalf("ran %q after it was cancelled", id)
	default:
	}
	waitFor(t, "the request removed once acted on", 5*time.Second, func() bool {
		_, err := q.ctl.Get(ctx, "doomed")
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
	if st := jobState(t, q, "doomed"); st != StateCancelled {
		t.Fatalf("final state %q", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || events[0].ID != "doomed" || events[0].Running {
		t.Fatalf("events %+v, want one JobCancelled of doomed, not running", events)
	}
}

func TestCancelRunningJobOnAnotherInstance(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "cr", Config{TrackStatus: true, MaxDeliver: 3, RetryBase: time.Millisecond, RetryMax: time.Millisecond})
	other, err := peerClient(t, c).OpenQueue(context.Background(), "cr")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	started := make(chan struct{}, 4)
	causes := make(chan error, 4)
	startWorker(t, ctx, q, func(ctx context.Context, j *Job) error {
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err() // an error: it must not be retried
	}, WorkerOptions{})
	if _, err := other.Enqueue(ctx, []byte("long"), WithID("long")); err != nil {
		t.Fatal(err)
	}
	recv(t, started, "the job")
	waitFor(t, "running status", 5*time.Second, func() bool { return jobState(t, other, "long") == StateRunning })
	if err := other.Cancel(ctx, "long"); err != nil {
		t.Fatal(err)
	}
	if cause := recv(t, causes, "the handler's cancellation"); !errors.Is(cause, ErrCancelled) {
		t.Fatalf("cause %v, want ErrCancelled", cause)
	}
	waitFor(t, "the job terminated", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
	waitFor(t, "cancelled state", 5*time.Second, func() bool { return jobState(t, other, "long") == StateCancelled })
	// Terminated, so never delivered again (a retry would have been due
	// after 1ms, and a nak would have kept it in the stream).
	select {
	case <-started:
		t.Fatal("the cancelled job was retried")
	default:
	}
	if dl, err := q.DeadLetters(ctx, 0); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %v, %v", dl, err)
	}
	if err := other.Cancel(ctx, "long"); !errors.Is(err, ErrAlreadyCancelled) {
		t.Fatalf("second cancel: %v, want ErrAlreadyCancelled", err)
	}
}

func TestCancelScheduledJobWithoutTracking(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "cs", Config{})
	ctx := context.Background()
	due := time.Now().Add(700 * time.Millisecond)
	id, err := q.Enqueue(ctx, nil, WithAt(due))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	ran := make(chan string, 1)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { ran <- j.ID; return nil }, WorkerOptions{})
	waitUntil(t, due.Add(time.Second))
	select {
	case got := <-ran:
		t.Fatalf("cancelled scheduled job %s ran", got)
	default:
	}
	if info, err := q.sched.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("schedule stream %+v %v, want empty", info.State, err)
	}
	if err := q.Cancel(ctx, id); !errors.Is(err, ErrStatusOff) {
		t.Fatalf("cancel again without tracking: %v, want ErrStatusOff", err)
	}
}

func TestCancelScheduledJobTracked(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "cst", Config{TrackStatus: true})
	ctx := context.Background()
	id, err := q.Enqueue(ctx, nil, WithDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "scheduled status", 5*time.Second, func() bool { return jobState(t, q, id) == StateScheduled })
	if err := q.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	s, err := q.JobStatus(ctx, id)
	if err != nil || s.State != StateCancelled || s.Due.IsZero() {
		t.Fatalf("status %+v %v, want cancelled with its due time", s, err)
	}
	if err := q.Cancel(ctx, id); !errors.Is(err, ErrAlreadyCancelled) {
		t.Fatalf("cancel again: %v, want ErrAlreadyCancelled", err)
	}
}

func TestCancelErrors(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "ce", Config{TrackStatus: true})
	ctx := context.Background()
	if err := q.Cancel(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v, want ErrNotFound", err)
	}
	if err := q.Cancel(ctx, "bad id!"); !errors.Is(err, ErrBadID) {
		t.Errorf("bad id: %v, want ErrBadID", err)
	}
	if _, err := q.Enqueue(ctx, nil, WithID("done")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 1)
	stop := startWorker(t, ctx, q, func(context.Context, *Job) error { done <- struct{}{}; return nil }, WorkerOptions{})
	recv(t, done, "the job")
	waitFor(t, "succeeded", 5*time.Second, func() bool { return jobState(t, q, "done") == StateSucceeded })
	stop()
	if err := q.Cancel(ctx, "done"); !errors.Is(err, ErrFinished) {
		t.Errorf("finished: %v, want ErrFinished", err)
	}
	if _, err := q.ctl.Get(ctx, "done"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("a request for a finished job was left: %v", err)
	}
	plain := testQueue(t, c, "ce2", Config{})
	if _, err := plain.Enqueue(ctx, nil, WithID("queued")); err != nil {
		t.Fatal(err)
	}
	if err := plain.Cancel(ctx, "queued"); !errors.Is(err, ErrStatusOff) {
		t.Errorf("queued job without tracking: %v, want ErrStatusOff", err)
	}
}
