package queue

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestInProgressKeepsLongHandlersLease(t *testing.T) {
	_, c := testClient(t)
	const ackWait = 300 * time.Millisecond
	q := testQueue(t, c, "long", Config{AckWait: ackWait})
	ctx := context.Background()
	var calls atomic.Int64
	done := make(chan int64, 1)
	h := func(ctx context.Context, j *Job) error {
		calls.Add(1)
		if j.Attempt != 1 {
			t.Errorf("redelivered: attempt %d", j.Attempt)
			return nil
		}
		// The job's work: three leases long.
		select {
		case <-time.After(3 * ackWait):
		case <-ctx.Done():
		}
		done <- calls.Load()
		return nil
	}
	// Two workers: a redelivery would reach the idle one.
	startWorker(t, ctx, q, h, WorkerOptions{})
	startWorker(t, ctx, q, h, WorkerOptions{})
	if _, err := q.Enqueue(ctx, []byte("long")); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, done, "the long job"); n != 1 {
		t.Fatalf("handler called %d times during a job of 3×AckWait; the lease was lost", n)
	}
}

func TestDeadWorkerJobRedelivered(t *testing.T) {
	p, c := testClient(t)
	q := testQueue(t, c, "crash", Config{AckWait: 300 * time.Millisecond})
	ctx := context.Background()

	// Worker A on its own connection: it takes the job and "dies".
	nc2, err := nats.Connect(p.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := newClient(nc2, c.log)
	if err != nil {
		t.Fatal(err)
	}
	q2 := testQueue(t, c2, "crash", Config{AckWait: 300 * time.Millisecond})
	taken := make(chan struct{})
	release := make(chan struct{})
	ctxA, cancelA := context.WithCancel(ctx)
	defer cancelA()
	doneA := make(chan error, 1)
	go func() {
		doneA <- q2.Work(ctxA, func(ctx context.Context, j *Job) error {
			close(taken)
			<-release
			return nil
		}, WorkerOptions{DrainTimeout: time.Hour})
	}()
	id, err := q.Enqueue(ctx, []byte("job"))
	if err != nil {
		t.Fatal(err)
	}
	recv(t, taken, "worker A taking the job")
	nc2.Close() // the process dies: no ack, no heartbeat, no nak

	got := make(chan *Job, 1)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { got <- j; return nil }, WorkerOptions{})
	j := recv(t, got, "the job redelivered to worker B")
	if j.ID != id || j.Attempt != 2 {
		t.Fatalf("redelivered job %s attempt %d, want %s attempt 2", j.ID, j.Attempt, id)
	}
	close(release)
	// Worker A finds its connection gone and says so.
	if err := recv(t, doneA, "worker A returning"); !errors.Is(err, ErrClosed) {
		t.Fatalf("worker A on a closed connection returned %v, want ErrClosed", err)
	}
}

func TestDrainHandsBackUnfinishedJobs(t *testing.T) {
	_, c := testClient(t)
	// A long AckWait: the job can only come back quickly if it is handed back.
	q := testQueue(t, c, "drain", Config{AckWait: time.Minute})
	ctx := context.Background()
	taken := make(chan struct{})
	var cause atomic.Value
	stopA := startWorker(t, ctx, q, func(ctx context.Context, j *Job) error {
		close(taken)
		<-ctx.Done()
		cause.Store(context.Cause(ctx))
		return ctx.Err()
	}, WorkerOptions{DrainTimeout: 50 * time.Millisecond})
	id, err := q.Enqueue(ctx, []byte("job"))
	if err != nil {
		t.Fatal(err)
	}
	recv(t, taken, "job taken")
	stopA()
	if c, _ := cause.Load().(error); c != ErrDraining {
		t.Fatalf("handler context cause %v, want ErrDraining", c)
	}
	got := make(chan *Job, 1)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { got <- j; return nil }, WorkerOptions{})
	j := recv(t, got, "handed-back job")
	// A stop never uses up an attempt (issue 18): the job comes back as
	// the attempt it was in.
	if j.ID != id || j.Attempt != 1 {
		t.Fatalf("job %s attempt %d, want attempt 1", j.ID, j.Attempt)
	}
	if q.figure().Failed != 0 {
		t.Fatal("a handed-back job counted as failed")
	}
}

func TestDrainLetsInFlightFinish(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "finish", Config{})
	ctx := context.Background()
	taken := make(chan struct{})
	release := make(chan struct{})
	stop := startWorker(t, ctx, q, func(ctx context.Context, j *Job) error {
		close(taken)
		<-release
		return ctx.Err()
	}, WorkerOptions{})
	if _, err := q.Enqueue(ctx, []byte("job")); err != nil {
		t.Fatal(err)
	}
	recv(t, taken, "job taken")
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Work returned while a handler was still running")
	default:
	}
	close(release)
	recv(t, stopped, "Work returning")
	waitFor(t, "job acked", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
}
