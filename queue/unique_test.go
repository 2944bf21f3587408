package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustDuplicate(t testing.TB, id string, err error, want string) {
	t.Helper()
	var d *DuplicateError
	if !errors.As(err, &d) || !errors.Is(err, ErrDuplicate) || d.ID != want || id != want {
		t.Fatalf("enqueue returned %q, %v; want the duplicate of %q", id, err, want)
	}
}

// Unique while active: a second enqueue of the same payload, at another
// level and after the dedupe window, is refused with the first job's ID
// until the first job has finished; then it is accepted again.
func TestUniqueWhileActive(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "uq", Config{DuplicateWindow: 100 * time.Millisecond})
	ctx := context.Background()
	u := WithUnique(Unique{})
	first, err := q.Enqueue(ctx, []byte("report 42"), u)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Now().Add(150*time.Millisecond)) // past the dedupe window
	id, err := q.Enqueue(ctx, []byte("report 42"), u, WithPriority(High))
	mustDuplicate(t, id, err, first)
	if _, err := q.Enqueue(ctx, []byte("report 43"), u); err != nil {
		t.Fatalf("another payload: %v", err)
	}
	if n := streamMsgs(t, q); n != 2 {
		t.Fatalf("%d jobs stored, want 2", n)
	}
	done := make(chan string, 4)
	stop := startWorker(t, ctx, q, func(_ context.Context, j *Job) error { done <- j.ID; return nil }, WorkerOptions{})
	recv(t, done, "a job")
	recv(t, done, "a job")
	stop()
	waitFor(t, "the key released by the worker", 5*time.Second, func() bool {
		_, err := q.Enqueue(ctx, []byte("report 42"), u)
		return err == nil
	})
}

// Unique for a period: the key outlives the job, then expires.
func TestUniqueForPeriod(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "uqp", Config{})
	ctx := context.Background()
	u := WithUnique(Unique{Key: "daily-digest.2026-12-01", For: time.Second})
	first, err := q.Enqueue(ctx, nil, u)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	startWorker(t, ctx, q, func(context.Context, *Job) error { done <- struct{}{}; return nil }, WorkerOptions{})
	recv(t, done, "the job")
	waitFor(t, "acked", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
	id, err := q.Enqueue(ctx, nil, u)
	mustDuplicate(t, id, err, first)
	waitFor(t, "the key expired", 5*time.Second, func() bool {
		_, err := q.Enqueue(ctx, nil, u)
		return err == nil
	})
}

// Unique by ID across levels, scheduled jobs included; cancelling the
// scheduled one releases its key.
func TestUniqueByIDScheduledAndCancelled(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "uqi", Config{})
	ctx := context.Background()
	u := WithUnique(Unique{ByID: true})
	if _, err := q.Enqueue(ctx, nil, WithID("invoice-7"), u, WithDelay(time.Hour)); err != nil {
		t.Fatal(err)
	}
	id, err := q.Enqueue(ctx, nil, WithID("invoice-7"), u, WithPriority(Low))
	mustDuplicate(t, id, err, "invoice-7")
	if err := q.Cancel(ctx, "invoice-7"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, nil, WithID("invoice-7"), u, WithPriority(Low)); err != nil {
		t.Fatalf("after cancelling the scheduled job: %v", err)
	}
}

// Racing enqueues of one key from two processes: exactly one is stored.
func TestUniqueRace(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "uqr", Config{})
	other, err := peerClient(t, c).OpenQueue(context.Background(), "uqr")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, dups := 0, 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qq := q
			if i%2 == 1 {
				qq = other
			}
			_, err := qq.Enqueue(ctx, []byte("same"), WithUnique(Unique{}))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrDuplicate):
				dups++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || dups != 19 || streamMsgs(t, q) != 1 {
		t.Fatalf("%d stored, %d duplicates, %d in the stream; want 1, 19, 1", won, dups, streamMsgs(t, q))
	}
}

func TestUniqueBadInput(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "uqb", Config{})
	ctx := context.Background()
	for name, tc := range map[string]struct {
		opts []EnqueueOption
		want error
	}{
		"10,000-byte key":  {[]EnqueueOption{WithUnique(Unique{Key: strings.Repeat("k", 10000)})}, ErrBadKey},
		"key with a space": {[]EnqueueOption{WithUnique(Unique{Key: "a b"})}, ErrBadKey},
		"ByID without ID":  {[]EnqueueOption{WithUnique(Unique{ByID: true})}, ErrBadKey},
		"Key and ByID":     {[]EnqueueOption{WithID("x"), WithUnique(Unique{Key: "k", ByID: true})}, ErrBadKey},
		"negative period":  {[]EnqueueOption{WithUnique(Unique{For: -time.Second})}, ErrBadConfig},
	} {
		if _, err := q.Enqueue(ctx, nil, tc.opts...); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if n := streamMsgs(t, q); n != 0 {
		t.Fatalf("%d jobs stored", n)
	}
}

func TestUniqueInBatch(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "uqbatch", Config{})
	ctx := context.Background()
	u := []EnqueueOption{WithUnique(Unique{Key: "one"})}
	ids, err := q.EnqueueBatch(ctx, []Message{{Payload: []byte("a"), Options: u}, {Payload: []byte("b"), Options: u}, {Payload: []byte("c")}})
	var be *BatchError
	if !errors.As(err, &be) || be.Errs[0] != nil || !errors.Is(be.Errs[1], ErrDuplicate) || be.Errs[2] != nil {
		t.Fatalf("batch: %v", err)
	}
	if ids[1] != ids[0] {
		t.Fatalf("the duplicate's ID %q, want the first job's %q", ids[1], ids[0])
	}
	if n := streamMsgs(t, q); n != 2 {
		t.Fatalf("%d stored, want 2", n)
	}
}
