package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// A flood from key A waits behind its own jobs only: key B's jobs, and
// those without a key, enqueued after it, all start within a few turns.
// Keys found in the stream at start (A, B) and keys that appear while the
// worker runs (C) are both served.
func TestFairnessByKey(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "fair", Config{Fairness: true})
	ctx := context.Background()
	const flood, few = 2000, 20
	enqueue := func(key string, n int) {
		msgs := make([]Message, n)
		for i := range msgs {
			opts := []EnqueueOption{}
			if key != "" {
				opts = append(opts, WithKey(key))
			}
			msgs[i] = Message{Payload: []byte(key), Options: opts}
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	enqueue("A", flood)
	enqueue("B", few)
	enqueue("", few)
	var mu sync.Mutex
	var order []string
	cStarted := make(chan struct{})
	var once sync.Once
	const concurrency = 4
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		if j.Key != string(j.Payload) {
			t.Errorf("job of key %q delivered with Key %q", j.Payload, j.Key)
		}
		mu.Lock()
		order = append(order, j.Key)
		mu.Unlock()
		if j.Key == "C" {
			once.Do(func() { close(cStarted) })
		}
		return nil
	}, WorkerOptions{Concurrency: concurrency})
	waitFor(t, "B and the unkeyed jobs started", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(strings.Join(order, ","), "B") == few && countEmpty(order) >= few
	})
	mu.Lock()
	lastB, lastPlain := 0, 0
	for i, k := range order {
		switch k {
		case "B":
			lastB = i
		case "":
			lastPlain = i
		}
	}
	mu.Unlock()
	// Three participants take turns: B's and the unkeyed jobs all start
	// within 3*few starts, plus what the open requests held.
	if bound := 3*few + 4*concurrency; lastB >= bound || lastPlain >= bound {
		t.Fatalf("B's last job started %dth, the unkeyed ones' %dth; want both before %d (A flooded %d)", lastB, lastPlain, bound, flood)
	}
	// A key first seen while the worker runs is served as soon.
	enqueue("C", 1)
	recv(t, cStarted, "the job of a new key")
	waitFor(t, "all done", 30*time.Second, func() bool { return streamMsgs(t, q) == 0 })
}

func countEmpty(s []string) int {
	n := 0
	for _, k := range s {
		if k == "" {
			n++
		}
	}
	return n
}

func TestFairnessKeyedScheduledJob(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "fairsched", Config{Fairness: true})
	ctx := context.Background()
	got := make(chan *Job, 1)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { got <- j; return nil }, WorkerOptions{})
	id, err := q.Enqueue(ctx, []byte("x"), WithKey("tenant-9"), WithDelay(300*time.Millisecond), WithPriority(Low))
	if err != nil {
		t.Fatal(err)
	}
	j := recv(t, got, "the scheduled keyed job")
	if j.ID != id || j.Key != "tenant-9" || j.Priority != Low || j.Due.IsZero() {
		t.Fatalf("job %s key %q priority %d due %v; want %s, tenant-9, Low, a due time", j.ID, j.Key, j.Priority, j.Due, id)
	}
}

func TestFairnessBadInput(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	plain := testQueue(t, c, "nofair", Config{})
	if _, err := plain.Enqueue(ctx, nil, WithKey("a")); !errors.Is(err, ErrBadConfig) {
		t.Errorf("a key on a queue without Fairness: %v, want ErrBadConfig", err)
	}
	q := testQueue(t, c, "fairbad", Config{Fairness: true})
	for _, key := range []string{"", strings.Repeat("k", 10000), "a.b", "a b", "a*"} {
		if _, err := q.Enqueue(ctx, nil, WithKey(key)); !errors.Is(err, ErrBadKey) {
			t.Errorf("key %.20q: %v, want ErrBadKey", key, err)
		}
	}
	if n := streamMsgs(t, q) + streamMsgs(t, plain); n != 0 {
		t.Fatalf("%d jobs stored", n)
	}
	// Fairness is a stored setting: declaring it differently is a mismatch.
	_, err := c.Queue(ctx, "fairbad", Config{})
	var me *ConfigMismatchError
	if !errors.As(err, &me) || !strings.Contains(fmt.Sprint(me.Diffs), "Fairness") {
		t.Fatalf("declaring without Fairness: %v", err)
	}
}

func TestKeyOfSubject(t *testing.T) {
	for _, tc := range []struct{ subject, key, level string }{
		{keySubject("k", 1, "tenant"), "tenant", levelSubject("k", 1)},
		{levelSubject("k", 1), "", levelSubject("k", 1)},
		{keySubject("q", 12, "k"), "k", levelSubject("q", 12)},
	} {
		if k, l := keyOf(tc.subject), withoutKey(tc.subject); k != tc.key || l != tc.level {
			t.Errorf("%s: key %q level subject %q; want %q %q", tc.subject, k, l, tc.key, tc.level)
		}
	}
}

// UpdateQueue turns Fairness on, and off again with keyed jobs waiting:
// no job is stranded either way.
func TestFairnessToggledByUpdate(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	testQueue(t, c, "toggle", Config{})
	q, err := c.UpdateQueue(ctx, "toggle", Config{Fairness: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b"} {
		if _, err := q.Enqueue(ctx, []byte(key), WithKey(key)); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 8)
	h := func(_ context.Context, j *Job) error { got <- string(j.Payload); return nil }
	stop := startWorker(t, ctx, q, h, WorkerOptions{})
	seen := map[string]bool{recv(t, got, "a job"): true, recv(t, got, "a job"): true}
	stop()
	if !seen["a"] || !seen["b"] {
		t.Fatalf("seen %v", seen)
	}
	if _, err := q.Enqueue(ctx, []byte("c"), WithKey("c")); err != nil {
		t.Fatal(err)
	}
	q, err = c.UpdateQueue(ctx, "toggle", Config{})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, ctx, q, h, WorkerOptions{})
	if p := recv(t, got, "the keyed job left when Fairness went off"); p != "c" {
		t.Fatalf("got %q", p)
	}
}
