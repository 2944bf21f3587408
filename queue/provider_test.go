package queue

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProviderLazyAndShared(t *testing.T) {
	dir := t.TempDir()
	p, err := NewProvider(Options{NATS: NATS{StoreDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Check(); err != nil {
		t.Fatalf("unused provider Check: %v", err)
	}
	if st := p.Status(); st.State != "unused" || st.Mode != "embedded" || !st.SyncAlways {
		t.Fatalf("unused status %+v", st)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("store dir has %d entries before any Client call: a server started", len(ents))
	}
	var wg sync.WaitGroup
	clients := make([]*Client, 8)
	for i := range clients {
		wg.Go(func() {
			c, err := p.Client(context.Background())
			if err != nil {
				t.Error(err)
			}
			clients[i] = c
		})
	}
	wg.Wait()
	for _, c := range clients[1:] {
		if c != clients[0] {
			t.Fatal("Client returned different clients")
		}
	}
	ctx := WithProvider(context.Background(), p)
	c, err := Connect(ctx)
	if err != nil || c != clients[0] {
		t.Fatalf("Connect: %v", err)
	}
	if err := p.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := c.Queue(ctx, "s", Config{}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p.Status())
	if !strings.Contains(string(b), `"state":"connected"`) || !strings.Contains(string(b), `"name":"s"`) {
		t.Fatalf("status %s", b)
	}

	// The server goes away: Check says so.
	p.srv.Shutdown()
	waitFor(t, "Check to fail", 5*time.Second, func() bool { return p.Check() != nil })
	if err := p.Check(); !strings.Contains(err.Error(), "reconnecting") && !strings.Contains(err.Error(), "disconnected") && !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Check error %q should name the state", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	mustErrIs(t, p.Check(), ErrClosed)
	_, err = p.Client(context.Background())
	mustErrIs(t, err, ErrClosed)
}

func TestProviderCloseStopsServer(t *testing.T) {
	p, c := testClient(t)
	srv := p.srv
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() || !c.nc.IsClosed() {
		t.Fatal("Close left the server running or the connection open")
	}
}

func TestProviderOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{NATS: NATS{StoreDir: "x", Listen: "0.0.0.0:4222"}}, "loopback"},
		{Options{NATS: NATS{StoreDir: "x", Listen: "10.1.2.3:4222"}}, "loopback"},
		{Options{}, "StoreDir"},
		{Options{NATS: NATS{StoreDir: "x", Sync: "sometimes"}}, "Sync"},
		{Options{NATS: NATS{StoreDir: "x", Token: "t"}}, "external"},
		{Options{NATS: NATS{URL: "nats://h:4222", TLSCert: "c"}}, "TLSKey"},
		{Options{NATS: NATS{URL: "::bad"}}, "URL"},
	} {
		_, err := NewProvider(tc.o)
		if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one about %s", tc.o, err, tc.want)
		}
	}
	for _, l := range []string{"127.0.0.1:-1", "[::1]:0", "localhost:4333"} {
		if _, err := NewProvider(Options{NATS: NATS{StoreDir: "x", Listen: l}}); err != nil {
			t.Errorf("Listen %q refused: %v", l, err)
		}
	}
	p, err := NewProvider(Options{NATS: NATS{URL: "nats://alice:s3cret@127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p.Status())
	if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "alice") {
		t.Fatalf("status leaks credentials: %s", b)
	}
	_, err = Connect(context.Background())
	mustErrIs(t, err, ErrNoProvider)
}

func TestJobsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*Provider, *Queue) {
		p, err := NewProvider(Options{NATS: NATS{StoreDir: dir}}) // Sync "always"
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Client(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q, err := c.Queue(ctx, "durable", Config{AckWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return p, q
	}
	p, q := open()
	want := map[string]bool{}
	for range 10 {
		id, err := q.Enqueue(ctx, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	// Stop in the middle of work: one job is in flight when the worker
	// stops. It is handed back, but the server forgets a hand-back it had
	// no time to persist before shutting down, so after the restart it comes
	// back after AckWait (1s here) instead of at once: late, never lost.
	taken := make(chan struct{})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- q.Work(wctx, func(ctx context.Context, j *Job) error {
			close(taken)
			<-ctx.Done()
			return ctx.Err()
		}, WorkerOptions{DrainTimeout: 10 * time.Millisecond})
	}()
	recv(t, taken, "a job in flight")
	cancel()
	if err := recv(t, done, "Work returning"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	p, q = open()
	defer p.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	all := make(chan struct{})
	stop := startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		mu.Lock()
		defer mu.Unlock()
		seen[j.ID]++
		if len(seen) == len(want) {
			close(all)
		}
		return nil
	}, WorkerOptions{Concurrency: 3})
	recv(t, all, "every job after the restart")
	stop()
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("job %s processed %d times after the restart", id, seen[id])
		}
	}
}
