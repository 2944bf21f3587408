package fleet

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cloudrole/cloudrole/internal/testutil"

	"github.com/cloudrole/cloudrole/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.ServerGoroutines...) }

func client(t *testing.T) *queue.Client {
	t.Helper()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two instances publish; the fleet shows both, a stopped one as gone at
// once, a silent one as gone after GoneAfter.
func TestFleetMembers(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	snap := func(state string) func() (string, Summary, any) {
		return func() (string, Summary, any) {
			return state, Summary{Ready: state == "running"}, map[string]string{"state": state}
		}
	}
	a := NewPublisher("orders", "orders_a", "prod", snap("running"), func() *queue.Client { return c }, nil)
	b := NewPublisher("orders", "orders b/2", "prod", snap("frozen"), func() *queue.Client { return c }, nil)
	a.Publish(ctx)
	b.Publish(ctx)
	ms, err := Read(ctx, c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Instance != "orders b/2" || ms[1].Instance != "orders_a" || ms[0].State != "frozen" || ms[0].Gone || ms[1].Gone {
		t.Fatalf("members %+v", ms)
	}
	if !ms[1].Summary.Ready || ms[0].Summary.Ready {
		t.Fatalf("summaries %+v", ms)
	}
	raw, err := Snapshot(ctx, c, "orders", "orders_a")
	var st map[string]string
	if err != nil || json.Unmarshal(raw, &st) != nil || st["state"] != "running" {
		t.Fatalf("snapshot %s: %v", raw, err)
	}
	// Silent for longer than GoneAfter: gone.
	if ms, _ := Read(ctx, c, time.Now().Add(GoneAfter+time.Second)); !ms[0].Gone || !ms[1].Gone {
		t.Fatalf("members after %v of silence: %+v", GoneAfter, ms)
	}
	// A publisher that stops says so: gone at once.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ms, _ = Read(ctx, c, time.Now())
	if ms[1].State != "stopped" || !ms[1].Gone || ms[0].Gone {
		t.Fatalf("after a's stop: %+v", ms)
	}
}

// Without a client (the role uses no NATS) nothing is published and
// nothing fails.
func TestNoClientNoPublish(t *testing.T) {
	p := NewPublisher("r", "i", "", func() (string, Summary, any) { return "running", Summary{}, nil }, func() *queue.Client { return nil }, nil)
	p.Publish(context.Background())
}

func TestKey(t *testing.T) {
	if k := Key("orders", "host.example:8080/x"); k != "orders.host_example_8080_x" {
		t.Fatalf("key %q", k)
	}
	if k := Key("", ""); k != "_._" {
		t.Fatalf("key %q", k)
	}
}
