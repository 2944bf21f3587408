package queue

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A busy Listen address is reported at once, naming the address and the
// setting, not after a readiness timeout; the listen error is kept for
// errors.Is and logged. A retry once the address is free succeeds.
func TestBusyListenReportedAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	logs := &recordHandler{}
	p, err := NewProvider(Options{NATS: NATS{StoreDir: t.TempDir(), Sync: "1m", Listen: addr}, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	began := time.Now()
	_, err = p.Client(context.Background())
	took := time.Since(began)
	if err == nil {
		t.Fatal("Client succeeded on a busy address")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "nats.listen") {
		t.Fatalf("error %q: want EADDRINUSE, naming %s and nats.listen", err, addr)
	}
	if took > time.Second {
		t.Fatalf("the busy address was reported after %v; want at once", took)
	}
	if !logs.has(slog.LevelError, addr) {
		t.Fatalf("the server's listen error was not logged; records: %v", logs.messages())
	}
	t.Logf("busy address reported after %v: %v", took.Round(time.Microsecond), err)

	ln.Close()
	if _, err := p.Client(context.Background()); err != nil {
		t.Fatalf("Client once the address is free: %v", err)
	}
}

// A context cancelled while the server starts ends the start: Client
// returns the cause promptly, and Close stops the half-started server and
// frees the store for the next Provider.
func TestCancelledStartReturnsPromptly(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop requested")
	// The server's first notice: Start has begun.
	logs := &recordHandler{onDebug: func(msg string) {
		if strings.Contains(msg, "Starting nats-server") {
			cancel(stop)
		}
	}}
	p, err := NewProvider(Options{NATS: NATS{StoreDir: dir, Sync: "1m"}, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = p.Client(ctx)
	took := time.Since(began)
	if !errors.Is(err, stop) {
		t.Fatalf("Client with a context cancelled during the start: %v, want the cause %v", err, stop)
	}
	if took > time.Second {
		t.Fatalf("Client returned %v after the cancellation; want promptly", took)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	next, err := NewProvider(Options{NATS: NATS{StoreDir: dir, Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if _, err := next.Client(context.Background()); err != nil {
		t.Fatalf("the next provider on the store: %v", err)
	}
	t.Logf("cancelled start returned after %v", took.Round(time.Microsecond))
}

// Every MaxPayload that Config accepts fits on the embedded server: a
// 3 MiB job on a queue with a 4 MiB limit is stored and delivered whole
// (nats-server's default max_payload is 1 MiB).
func TestEmbeddedServerTakesLargePayloads(t *testing.T) {
	_, c := testClient(t)
	if got := c.Conn().MaxPayload(); got != 64<<20 {
		t.Fatalf("the embedded server's max_payload is %d, want 64 MiB (Config.MaxPayload's limit)", got)
	}
	q := testQueue(t, c, "large", Config{MaxPayload: 4 << 20})
	body := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)
	if _, err := q.Enqueue(context.Background(), body); err != nil {
		t.Fatalf("Enqueue of 3 MiB: %v", err)
	}
	got := make(chan []byte, 1)
	startWorker(t, context.Background(), q, func(_ context.Context, j *Job) error {
		got <- j.Payload
		return nil
	}, WorkerOptions{})
	if p := recv(t, got, "the 3 MiB job"); !bytes.Equal(p, body) {
		t.Fatalf("payload of %d bytes delivered, want the %d enqueued", len(p), len(body))
	}
}

// recordHandler is a slog.Handler that keeps every record and calls
// onDebug (if set) with each debug message as it is logged.
type recordHandler struct {
	onDebug func(msg string)
	mu      sync.Mutex
	recs    []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelDebug && h.onDebug != nil {
		h.onDebug(r.Message)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}

// has reports whether a record at level has a message containing s.
func (h *recordHandler) has(level slog.Level, s string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Level == level && strings.Contains(r.Message, s) {
			return true
		}
	}
	return false
}

func (h *recordHandler) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.recs))
	for _, r := range h.recs {
		out = append(out, r.Level.String()+" "+r.Message)
	}
	return out
}
