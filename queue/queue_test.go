package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "rt", Config{})
	ctx := context.Background()
	want := map[string]string{}
	for i := range 3 {
		id, err := q.Enqueue(ctx, fmt.Appendf(nil, "job-%d", i), WithPriority(Priority(i)), WithHeader("X-Tenant", "t1"))
		if err != nil {
			t.Fatal(err)
		}
		want[id] = fmt.Sprintf("job-%d", i)
	}
	got := make(chan *Job, 3)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { got <- j; return nil }, WorkerOptions{})
	for range 3 {
		j := recv(t, got, "a job")
		if want[j.ID] != string(j.Payload) {
			t.Errorf("job %s payload %q, want %q", j.ID, j.Payload, want[j.ID])
		}
		if j.Attempt != 1 || j.Headers.Get("X-Tenant") != "t1" || j.EnqueuedAt.IsZero() {
			t.Errorf("job %+v: want attempt 1, header X-Tenant, enqueue time", j)
		}
		if j.Headers.Get(hdrID) != "" {
			t.Errorf("cloudrole header leaked to handler: %v", j.Headers)
		}
		if string(j.Payload) != fmt.Sprintf("job-%d", j.Priority) {
			t.Errorf("job %q came with priority %d", j.Payload, j.Priority)
		}
	}
	waitFor(t, "acked jobs removed from the stream", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
}

func TestStrictPriority(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "strict", Config{})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, []byte("low-first"), WithPriority(Low)); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	started := make(chan string, 16)
	var mu sync.Mutex
	var order []string
	highBells := make(chan int, 16)
	h := func(_ context.Context, j *Job) error {
		mu.Lock()
		order = append(order, string(j.Payload))
		mu.Unlock()
		started <- string(j.Payload)
		if string(j.Payload) == "low-first" {
			<-gate
		}
		return nil
	}
	startWorker(t, ctx, q, h, WorkerOptions{Concurrency: 1, bellHook: func(l int) {
		if l == int(High) {
			highBells <- l
		}
	}})
	if s := recv(t, started, "first job"); s != "low-first" {
		t.Fatalf("first job %q", s)
	}
	for i := range 3 {
		if _, err := q.Enqueue(ctx, fmt.Appendf(nil, "low-%d", i), WithPriority(Low)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := q.Enqueue(ctx, fmt.Appendf(nil, "high-%d", i), WithPriority(High)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		recv(t, highBells, "worker noticing a high job")
	}
	close(gate)
	for range 6 {
		recv(t, started, "next job")
	}
	mu.Lock()
	defer mu.Unlock()
	want := "low-first high-0 high-1 high-2 low-0 low-1 low-2"
	if strings.Join(order, " ") != want {
		t.Fatalf("order %v, want %s", order, want)
	}
}

func TestPrefetchBoundedByFreeSlots(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "bound", Config{})
	ctx := context.Background()
	const n, conc = 20, 3
	for i := range n {
		if _, err := q.Enqueue(ctx, fmt.Appendf(nil, "%d", i), WithPriority(Priority(i%3))); err != nil {
			t.Fatal(err)
		}
	}
	gate := make(chan struct{})
	started := make(chan struct{}, n)
	var running, peak atomic.Int64
	h := func(_ context.Context, j *Job) error {
		r := running.Add(1)
		for {
			p := peak.Load()
			if r <= p || peak.CompareAndSwap(p, r) {
				break
			}
		}
		started <- struct{}{}
		<-gate
		running.Add(-1)
		return nil
	}
	startWorker(t, ctx, q, h, WorkerOptions{Concurrency: conc})
	for range conc {
		recv(t, started, "a job start")
	}
	var ackPending int
	for l := range 3 {
		info, err := q.consumers[l].Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ackPending += info.NumAckPending
	}
	if ackPending != conc {
		t.Fatalf("%d jobs unacknowledged with %d slots busy; prefetch must be bounded by free slots", ackPending, conc)
	}
	close(gate)
	for range n - conc {
		recv(t, started, "a job start")
	}
	if p := peak.Load(); p > conc {
		t.Fatalf("peak concurrency %d > %d", p, conc)
	}
}

func TestAging(t *testing.T) {
	for _, tc := range []struct {
		name  string
		aging time.Duration
	}{{"strict", 0}, {"aging", 2 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := testClient(t)
			q := testQueue(t, c, "aging", Config{})
			ctx := context.Background()
			if _, err := q.Enqueue(ctx, []byte("old-low"), WithPriority(Low)); err != nil {
				t.Fatal(err)
			}
			const highs = 400
			msgs := make([]Message, highs)
			for i := range msgs {
				msgs[i] = Message{Payload: []byte("high"), Options: []EnqueueOption{WithPriority(High)}}
			}
			if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			var seen atomic.Int64
			lowAt := make(chan int64, 1)
			startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
				n := seen.Add(1)
				if string(j.Payload) == "old-low" {
					lowAt <- n
				}
				return nil
			}, WorkerOptions{Concurrency: 1, Aging: tc.aging})
			pos := recv(t, lowAt, "the low job")
			if tc.aging == 0 && pos != highs+1 {
				t.Fatalf("strict: low job served at position %d, want last (%d)", pos, highs+1)
			}
			if tc.aging > 0 && pos > highs-50 {
				t.Fatalf("aging: low job served at position %d of %d; it should not wait for the high ones", pos, highs+1)
			}
		})
	}
}

func TestRetryBackoffAndAttempts(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "retry", Config{RetryBase: 40 * time.Millisecond})
	ctx := context.Background()
	type call struct {
		attempt int
		at      time.Time
	}
	calls := make(chan call, 8)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		calls <- call{j.Attempt, time.Now()}
		if j.Attempt < 3 {
			return errors.New("transient")
		}
		return nil
	}, WorkerOptions{})
	if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	var cs []call
	for range 3 {
		cs = append(cs, recv(t, calls, "an attempt"))
	}
	for i, c := range cs {
		if c.attempt != i+1 {
			t.Fatalf("attempt %d saw Attempt=%d", i+1, c.attempt)
		}
	}
	// Delay after attempt n is in [d/2, d], d = 40ms * 2^(n-1).
	if g := cs[1].at.Sub(cs[0].at); g < 20*time.Millisecond {
		t.Errorf("first retry after %v, want >= 20ms", g)
	}
	if g := cs[2].at.Sub(cs[1].at); g < 40*time.Millisecond {
		t.Errorf("second retry after %v, want >= 40ms (growing)", g)
	}
	waitFor(t, "job acked", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
}

func TestMaxDeliverToDeadLetters(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "poison", Config{MaxDeliver: 3, RetryBase: 5 * time.Millisecond})
	ctx := context.Background()
	var good atomic.Int64
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		if string(j.Payload) == "poison" {
			return fmt.Errorf("cannot parse attempt %d", j.Attempt)
		}
		good.Add(1)
		return nil
	}, WorkerOptions{Concurrency: 2})
	id, err := q.Enqueue(ctx, []byte("poison"), WithHeader("X-Order", "42"), WithPriority(High))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := q.Enqueue(ctx, []byte("ok")); err != nil {
			t.Fatal(err)
		}
	}
	var dl []DeadLetter
	waitFor(t, "a dead letter", 10*time.Second, func() bool {
		dl, err = q.DeadLetters(ctx, 10)
		return err == nil && len(dl) == 1
	})
	d := dl[0]
	if d.ID != id || d.Attempts != 3 || d.Priority != High || string(d.Payload) != "poison" ||
		d.Headers.Get("X-Order") != "42" || !strings.Contains(d.Error, "cannot parse attempt 3") || d.DeadAt.IsZero() {
		t.Fatalf("dead letter %+v", d)
	}
	waitFor(t, "the other jobs processed", 5*time.Second, func() bool { return good.Load() == 10 })
	waitFor(t, "queue empty", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
	if f := q.figure(); f.Dead != 1 || f.Failed != 3 || f.Processed != 10 {
		t.Fatalf("figures %+v", f)
	}
}

func TestPermanentAndRequeue(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "perm", Config{})
	ctx := context.Background()
	var fixed atomic.Bool
	var calls atomic.Int64
	done := make(chan string, 4)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		calls.Add(1)
		if !fixed.Load() {
			return fmt.Errorf("handler: %w", Permanent(errors.New("invalid order")))
		}
		done <- j.ID
		return nil
	}, WorkerOptions{})
	id, err := q.Enqueue(ctx, []byte("p"), WithID("order-7"), WithPriority(Low))
	if err != nil || id != "order-7" {
		t.Fatalf("enqueue: %q %v", id, err)
	}
	var dl []DeadLetter
	waitFor(t, "a dead letter", 5*time.Second, func() bool {
		dl, err = q.DeadLetters(ctx, 0)
		return err == nil && len(dl) == 1
	})
	if dl[0].Attempts != 1 || calls.Load() != 1 || !strings.Contains(dl[0].Error, "invalid order") {
		t.Fatalf("permanent error: dead letter %+v after %d calls; want 1 attempt", dl[0], calls.Load())
	}
	mustErrIs(t, q.Requeue(ctx, "no-such-job"), ErrNotFound)
	fixed.Store(true)
	if err := q.Requeue(ctx, fmt.Sprint(dl[0].Seq)); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, done, "the re-queued job"); got != "order-7" {
		t.Fatalf("re-queued job id %q", got)
	}
	dl, err = q.DeadLetters(ctx, 0)
	if err != nil || len(dl) != 0 {
		t.Fatalf("dead letters after requeue: %v %v", dl, err)
	}
}

func TestRequeueByID(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "rqid", Config{})
	ctx := context.Background()
	var fixed atomic.Bool
	done := make(chan int, 1)
	stop := startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		if !fixed.Load() {
			return Permanent(errors.New("no"))
		}
		done <- j.Attempt
		return nil
	}, WorkerOptions{})
	if _, err := q.Enqueue(ctx, []byte("p"), WithID("a.b-1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dead letter", 5*time.Second, func() bool { return q.figure().Dead == 1 })
	stop()
	fixed.Store(true)
	if err := q.Requeue(ctx, "a.b-1"); err != nil {
		t.Fatal(err)
	}
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		done <- j.Attempt
		return nil
	}, WorkerOptions{})
	if a := recv(t, done, "re-queued job"); a != 1 {
		t.Fatalf("re-queued job attempt %d, want a fresh count", a)
	}
}

func TestWeightedShares(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "shares", Config{Levels: 2})
	ctx := context.Background()
	for _, p := range []Priority{0, 1} {
		msgs := make([]Message, 200)
		for i := range msgs {
			msgs[i] = Message{Payload: []byte{byte(p)}, Options: []EnqueueOption{WithPriority(p)}}
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var first100 []Priority
	done := make(chan struct{})
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		mu.Lock()
		defer mu.Unlock()
		if len(first100) < 100 {
			first100 = append(first100, j.Priority)
			if len(first100) == 100 {
				close(done)
			}
		}
		return nil
	}, WorkerOptions{Concurrency: 1, Shares: []int{3, 1}})
	recv(t, done, "100 jobs")
	mu.Lock()
	defer mu.Unlock()
	low := 0
	for _, p := range first100 {
		if p == 1 {
			low++
		}
	}
	// 3:1 shares while both levels have jobs: a quarter of the jobs are low.
	if low < 20 || low > 30 {
		t.Fatalf("%d of the first 100 jobs were low priority; want about 25 with shares 3:1", low)
	}
	if err := q.Work(ctx, func(context.Context, *Job) error { return nil }, WorkerOptions{Shares: []int{1}}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("Shares of the wrong length: %v", err)
	}
}

func TestHandlerPanicIsRetried(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "panics", Config{RetryBase: 5 * time.Millisecond})
	ctx := context.Background()
	done := make(chan int, 1)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		if j.Attempt == 1 {
			panic("nil map somewhere")
		}
		done <- j.Attempt
		return nil
	}, WorkerOptions{})
	if _, err := q.Enqueue(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if a := recv(t, done, "the retried job"); a != 2 {
		t.Fatalf("after a panic the job came back at attempt %d", a)
	}
	if f := q.figure(); f.Failed != 1 || !strings.Contains(f.LastError, "handler panic: nil map somewhere") {
		t.Fatalf("figures after a panic %+v", f)
	}
}
