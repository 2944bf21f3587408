package queue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// externalClient connects a Provider to a standalone in-process server at
// its defaults (max_payload 1 MiB), as a user's external server would be.
func externalClient(t *testing.T) (*Provider, *Client) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	p, err := NewProvider(Options{NATS: NATS{URL: s.ClientURL()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

// Every oversize enqueue is ErrPayloadTooLarge naming both sizes, whether
// the queue's MaxPayload or the server's max_payload is what it exceeds,
// and headers count.
func TestPayloadLimitCountsHeadersAndServer(t *testing.T) {
	_, c := externalClient(t)
	ctx := context.Background()
	const serverMax = 1 << 20 // nats-server's default max_payload
	def := testQueue(t, c, "def", Config{})
	// A MaxPayload the server could never carry is refused when declared.
	_, err := c.Queue(ctx, "big", Config{MaxPayload: 4 << 20})
	if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), strconv.Itoa(4<<20)) || !strings.Contains(err.Error(), strconv.Itoa(serverMax)) {
		t.Fatalf("declaring MaxPayload 4 MiB on a 1 MiB server: %v", err)
	}

	tooLarge := func(what string, err error, sizes ...int) {
		t.Helper()
		if !errors.Is(err, ErrPayloadTooLarge) {
			t.Fatalf("%s: error %v, want ErrPayloadTooLarge", what, err)
		}
		for _, n := range sizes {
			if !strings.Contains(err.Error(), strconv.Itoa(n)) {
				t.Fatalf("%s: error %q does not name %d", what, err, n)
			}
		}
	}
	// Exactly the default MaxPayload: allowed by the queue, too big for
	// the server once headers are added.
	_, err = def.Enqueue(ctx, make([]byte, 1<<20))
	tooLarge("payload of exactly MaxPayload", err, 1<<20, serverMax)
	// Over the queue's own limit.
	_, err = def.Enqueue(ctx, make([]byte, 1<<20+1))
	tooLarge("over MaxPayload", err, 1<<20+1, 1<<20)
	// Headers count.
	_, err = def.Enqueue(ctx, make([]byte, serverMax-2000), WithHeader("X-Big", strings.Repeat("h", 1500)))
	tooLarge("payload plus a big header", err, serverMax-2000, serverMax)
	_, err = def.EnqueueBatch(ctx, []Message{{Payload: make([]byte, 1<<20)}})
	tooLarge("batch", err, 1<<20, serverMax)
	if n := streamMsgs(t, def); n != 0 {
		t.Fatalf("%d oversize jobs stored", n)
	}
	// What fits is stored, and a dead letter of it fits too.
	if _, err := def.Enqueue(ctx, make([]byte, serverMax-deadLetterRoom-200)); err != nil {
		t.Fatalf("a job that fits: %v", err)
	}
	dead := make(chan struct{}, 1)
	startWorker(t, ctx, def, func(context.Context, *Job) error {
		dead <- struct{}{}
		return Permanent(errors.New(strings.Repeat("e", 600)))
	}, WorkerOptions{})
	recv(t, dead, "the big job")
	waitFor(t, "its dead letter", 5*time.Second, func() bool {
		d, err := def.DeadLetters(ctx, 1)
		return err == nil && len(d) == 1
	})
}

func TestEnqueueAfterCloseIsErrClosed(t *testing.T) {
	p, c := testClient(t)
	q := testQueue(t, c, "closed", Config{TrackStatus: true})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err := q.Enqueue(ctx, []byte("x"))
	mustErrIs(t, err, ErrClosed)
	_, err = q.EnqueueBatch(ctx, []Message{{Payload: []byte("x")}})
	mustErrIs(t, err, ErrClosed)
	_, err = q.DeadLetters(ctx, 1)
	mustErrIs(t, err, ErrClosed)
	_, err = q.JobStatus(ctx, "some-id")
	mustErrIs(t, err, ErrClosed)
}
