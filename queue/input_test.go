package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestBacklogFull(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "capped", Config{MaxBacklog: 3})
	ctx := context.Background()
	var ids []string
	for range 3 {
		id, err := q.Enqueue(ctx, []byte("x"), WithPriority(Low))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	_, err := q.Enqueue(ctx, []byte("one too many"), WithPriority(Low))
	mustErrIs(t, err, ErrBacklogFull)
	if !strings.Contains(err.Error(), `"capped"`) || !strings.Contains(err.Error(), "3") {
		t.Fatalf("error %q should name the queue and the limit", err)
	}
	_, err = q.EnqueueBatch(ctx, []Message{{Payload: []byte("y"), Options: []EnqueueOption{WithPriority(Low)}}})
	mustErrIs(t, err, ErrBacklogFull)
	// The limit is per level: a full low level never blocks high work.
	id, err := q.Enqueue(ctx, []byte("urgent"), WithPriority(High))
	if err != nil {
		t.Fatalf("high-priority enqueue with only the low level full: %v", err)
	}
	ids = append(ids, id)
	if n := streamMsgs(t, q); n != 4 {
		t.Fatalf("streams hold %d jobs, want the 4 accepted", n)
	}
	got := make(chan string, 4)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { got <- j.ID; return nil }, WorkerOptions{})
	seen := map[string]bool{}
	for range 4 {
		seen[recv(t, got, "job")] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("accepted job %s was not processed", id)
		}
	}
	// Room again once processed.
	waitFor(t, "backlog drained", 5*time.Second, func() bool { return streamMsgs(t, q) == 0 })
	if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
		t.Fatalf("enqueue after drain: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	_, err := c.Queue(ctx, "orders.eu", Config{})
	mustErrIs(t, err, ErrBadName)
	if !strings.Contains(err.Error(), `'.'`) {
		t.Fatalf("error %q should name the bad character", err)
	}
	for _, n := range []string{"", "a b", "a*", strings.Repeat("x", 65)} {
		if _, err := c.Queue(ctx, n, Config{}); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v", n, err)
		}
	}
	for _, cfg := range []Config{{Levels: 17}, {MaxDeliver: -1}, {AckWait: time.Millisecond}, {MaxBacklog: -1}, {Replicas: 7}, {RetryBase: time.Hour, RetryMax: time.Second}} {
		if _, err := c.Queue(ctx, "ok", cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("config %+v: %v", cfg, err)
		}
	}
	// Nothing was created by the failed calls.
	names := c.js.StreamNames(ctx)
	for n := range names.Name() {
		t.Errorf("stream %q exists after failed Queue calls", n)
	}

	q := testQueue(t, c, "small", Config{MaxPayload: 16})
	_, err = q.Enqueue(ctx, make([]byte, 17))
	mustErrIs(t, err, ErrPayloadTooLarge)
	if !strings.Contains(err.Error(), "payload of 17 bytes, the queue's MaxPayload is 16") {
		t.Fatalf("error %q should give size and limit", err)
	}
	_, err = q.Enqueue(ctx, nil, WithPriority(3))
	mustErrIs(t, err, ErrBadPriority)
	_, err = q.Enqueue(ctx, nil, WithPriority(-1))
	mustErrIs(t, err, ErrBadPriority)
	_, err = q.Enqueue(ctx, nil, WithID("has space"))
	mustErrIs(t, err, ErrBadID)
	if _, err = q.Enqueue(ctx, nil, WithHeader("Nats-Msg-Id", "x")); err == nil {
		t.Fatal("reserved header accepted")
	}
	if _, err = q.Enqueue(ctx, nil, WithReply("a.*")); err == nil {
		t.Fatal("wildcard reply subject accepted")
	}
	ids, err := q.EnqueueBatch(ctx, []Message{{Payload: []byte("fine")}, {Payload: make([]byte, 20)}})
	var be *BatchError
	if !errors.As(err, &be) || be.Errs[0] != nil || !errors.Is(be.Errs[1], ErrPayloadTooLarge) || ids[0] == "" {
		t.Fatalf("batch: ids %v err %v", ids, err)
	}
	if n := streamMsgs(t, q); n != 1 {
		t.Fatalf("stream holds %d jobs; only the valid batch message should be stored", n)
	}
}

func TestDedupeByID(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "dedupe", Config{})
	ctx := context.Background()
	for range 3 {
		if _, err := q.Enqueue(ctx, []byte("x"), WithID("same")); err != nil {
			t.Fatal(err)
		}
	}
	if n := streamMsgs(t, q); n != 1 {
		t.Fatalf("%d jobs stored for one ID", n)
	}
}

func TestForeignAndMalformedMessages(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "foreign", Config{})
	ctx := context.Background()
	// Another tool publishes straight to the level subjects.
	if _, err := c.js.Publish(ctx, levelSubject("foreign", 2), []byte("no headers")); err != nil {
		t.Fatal(err)
	}
	m := &nats.Msg{Subject: levelSubject("foreign", 0), Data: []byte("bad headers"), Header: nats.Header{
		hdrID: {"bad id with spaces\x00"}, hdrReply: {"reply.*"},
	}}
	if _, err := c.js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Job, 2)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { got <- j; return nil }, WorkerOptions{})
	a, b := recv(t, got, "job"), recv(t, got, "job")
	if string(a.Payload) != "bad headers" || a.Priority != High || !strings.HasPrefix(a.ID, "seq-") || a.env.Reply != "" {
		t.Fatalf("malformed job %+v", a)
	}
	if string(b.Payload) != "no headers" || b.Priority != Low || !strings.HasPrefix(b.ID, "seq-") {
		t.Fatalf("foreign job %+v", b)
	}
}

func TestRateLimit(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "limited", Config{})
	ctx := context.Background()
	const n, perSec = 6, 20.0
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{Payload: []byte("x")}
	}
	if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, n)
	startWorker(t, ctx, q, func(context.Context, *Job) error { got <- time.Now(); return nil }, WorkerOptions{Concurrency: 4, RateLimit: perSec})
	first := recv(t, got, "first job")
	var last time.Time
	for range n - 1 {
		last = recv(t, got, "a job")
	}
	// A burst of 1 then one job per 50ms: 5 more jobs take at least 250ms
	// (minus a little for timer granularity).
	if d := last.Sub(first); d < 225*time.Millisecond {
		t.Fatalf("%d jobs started within %v at a limit of %v/s", n, d, perSec)
	}
}

func TestOldSingleStreamLayoutRefused(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	subjects := []string{levelSubject("legacy", 0), levelSubject("legacy", 1), levelSubject("legacy", 2)}
	if _, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: "CRQ_legacy", Subjects: subjects, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Queue(ctx, "legacy", Config{})
	if err == nil || !strings.Contains(err.Error(), "CRQ_legacy") || !strings.Contains(err.Error(), "nats stream rm") {
		t.Fatalf("error %v, want one naming the old stream and how to remove it", err)
	}
	names := c.js.StreamNames(ctx)
	for n := range names.Name() {
		if strings.HasPrefix(n, "CRQ_legacy_") {
			t.Fatalf("stream %s created although the queue was refused", n)
		}
	}
}

// Foreign messages without an ID at two levels are stored as sequence 1 of
// their level's stream: their generated IDs must still differ, and both
// must reach the dead-letter stream (a shared dedupe key dropped one).
func TestGeneratedIDsUniqueAcrossLevels(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "gen", Config{})
	ctx := context.Background()
	for _, l := range []int{0, 1} {
		if _, err := c.js.Publish(ctx, levelSubject("gen", l), []byte("no id")); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 2)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		select {
		case got <- j.ID:
		default: // the re-queued one, below
		}
		return Permanent(errors.New("poison"))
	}, WorkerOptions{})
	a, b := recv(t, got, "job"), recv(t, got, "job")
	if a == b {
		t.Fatalf("two jobs of different levels got the same ID %q", a)
	}
	var dead []DeadLetter
	waitFor(t, "both dead letters", 5*time.Second, func() bool {
		var err error
		dead, err = q.DeadLetters(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(dead) == 2
	})
	if dead[0].ID == dead[1].ID {
		t.Fatalf("dead letters share the ID %q", dead[0].ID)
	}
	// Each can be re-queued by its ID without ambiguity.
	if err := q.Requeue(ctx, dead[1].ID); err != nil {
		t.Fatal(err)
	}
}
