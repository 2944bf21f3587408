package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/queue"
)

const waitLong = 20 * time.Second

// testServer starts an embedded NATS server for one test.
func testServer(t testing.TB) *queue.Provider {
	t.Helper()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m", Listen: "127.0.0.1:-1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if _, err := p.Client(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

// fast are runner options with short heartbeats for tests.
func fast(p *queue.Provider, instance string) Options {
	return Options{
		Connect:   p.Client,
		Instance:  instance,
		Heartbeat: 100 * time.Millisecond,
		FailAfter: 2 * time.Second,
	}
}

// startRunner makes and starts a runner; the test's cleanup stops it.
func startRunner(t testing.TB, o Options, jobs ...Job) *Runner {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	r, err := NewRunner(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := r.Add(j); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return r
}

// testClient returns a client on p.
func testClient(t testing.TB, p *queue.Provider) *Client {
	t.Helper()
	qc, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(context.Background(), qc, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// start starts a run, retrying while no runner has published the job yet.
func start(t testing.TB, c *Client, job string, args ...string) string {
	t.Helper()
	ctx := ctxFor(t, waitLong)
	for {
		id, err := c.Start(ctx, job, StartOptions{Args: args})
		if err == nil {
			return id
		}
		if !errors.Is(err, ErrUnknownJob) || ctx.Err() != nil {
			t.Fatalf("Start(%s): %v", job, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for a run to end.
func wait(t testing.TB, c *Client, id string) Run {
	t.Helper()
	r, err := c.Wait(ctxFor(t, waitLong), id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	return r
}

// eventually waits until cond holds, or fails the test after waitLong.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !testutil.Poll(cond, waitLong) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func texts(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

func ctxWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
