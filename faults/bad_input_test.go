package faults

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cloudrole/cloudrole/queue"
)

// Hostile input at the queue's edges, while real jobs sit in the queue:
// every bad call gets a clear error naming what is wrong, foreign and
// malformed messages published straight to the queue's subjects by other
// tools are handled without crashing the worker, and every real job is
// still processed — nothing already stored is lost.
func TestBadInputLosesNothing(t *testing.T) {
	dir := t.TempDir()
	srv := newNATSServer(t, "solo", freePort(t), filepath.Join(dir, "nats"))
	srv.start()
	c := connectClient(t, srv.url())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cfg := queue.Config{MaxPayload: 1024, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	q, err := c.Queue(ctx, "orders", cfg)
	if err != nil {
		t.Fatal(err)
	}
	const real = 200
	var ids []string
	for i := range real {
		id, err := q.Enqueue(ctx, []byte(fmt.Sprintf("real-%d", i)), queue.WithID(fmt.Sprintf("real-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}

	// Bad calls: each a clear error naming the problem, nothing stored.
	bad := []struct {
		name string
		err  error
		want error
		has  string
	}{
		{"oversized payload", enqueueErr(q.Enqueue(ctx, make([]byte, 4096))), queue.ErrPayloadTooLarge, "4096"},
		{"unknown priority", enqueueErr(q.Enqueue(ctx, []byte("x"), queue.WithPriority(7))), queue.ErrBadPriority, "7"},
		{"bad job id", enqueueErr(q.Enqueue(ctx, []byte("x"), queue.WithID("a b*>"))), queue.ErrBadID, "a b*>"},
		{"queue name with a dot", queueErr(c.Queue(ctx, "orders.eu", queue.Config{})), queue.ErrBadName, "'.' at byte 6"},
		{"queue name with a wildcard", queueErr(c.Queue(ctx, "or*ders", queue.Config{})), queue.ErrBadName, "'*' at byte 2"},
		{"empty queue name", queueErr(c.Queue(ctx, "", queue.Config{})), queue.ErrBadName, ""},
		{"huge queue name", queueErr(c.Queue(ctx, strings.Repeat("q", 10000), queue.Config{})), queue.ErrBadName, ""},
		{"negative concurrency", q.Work(ctx, func(context.Context, *queue.Job) error { return nil }, queue.WorkerOptions{Concurrency: -3}), queue.ErrBadConfig, "Concurrency"},
	}
	for _, b := range bad {
		if !errors.Is(b.err, b.want) || !strings.Contains(b.err.Error(), b.has) {
			t.Errorf("%s: error %v; want %v naming %s", b.name, b.err, b.want, b.has)
		}
	}

	// Foreign traffic on the queue's subjects, as another tool might send.
	nc, err := nats.Connect(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := c.JetStream()
	foreign := []*nats.Msg{
		{Subject: "cloudrole.queue.orders.0", Data: []byte("no headers at all")},
		{Subject: "cloudrole.queue.orders.2", Data: nil},
		{Subject: "cloudrole.queue.orders.1", Data: []byte("garbage headers"), Header: nats.Header{
			"Cloudrole-Id": {"\x00bad id\n"}, "Cloudrole-Priority": {"-9"}, "Cloudrole-Enqueued-At": {"yesterday"},
			"Cloudrole-Reply": {"*.>"}, "Cloudrole-Attempts": {"many"},
		}},
		{Subject: "cloudrole.queue.orders.1", Data: []byte("huge header"), Header: nats.Header{"X-Big": {strings.Repeat("h", 16<<10)}}},
	}
	for _, m := range foreign {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publishing a foreign message to %s: %v", m.Subject, err)
		}
	}
	// Too big for the stream: refused by the server, nothing stored.
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "cloudrole.queue.orders.1", Data: make([]byte, 200<<10)}); err == nil {
		t.Error("a 200 KiB raw publish to a queue capped at 1 KiB payloads was stored")
	}

	var mu sync.Mutex
	seen := map[string]int{}
	foreignSeen := 0
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- q.Work(wctx, func(_ context.Context, j *queue.Job) error {
			mu.Lock()
			defer mu.Unlock()
			if strings.HasPrefix(string(j.Payload), "real-") {
				seen[j.ID]++
			} else {
				foreignSeen++
			}
			return nil
		}, queue.WorkerOptions{Concurrency: 4})
	}()
	ok := waitFor(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == real && foreignSeen == len(foreign)
	}, waitTimeout)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Work = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !ok {
		t.Fatalf("processed %d of %d real jobs and %d of %d foreign messages", len(seen), real, foreignSeen, len(foreign))
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("job %s processed %d times", id, seen[id])
		}
	}
	dead, err := q.DeadLetters(context.Background(), 0)
	if err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %v, %v; want none", dead, err)
	}
}

func enqueueErr(_ string, err error) error     { return err }
func queueErr(_ *queue.Queue, err error) error { return err }
