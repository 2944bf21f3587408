package roletest

import (
	"context"
	"testing"

	"github.com/cloudrole/cloudrole/queue"
)

// Queues starts a real NATS server with JetStream in this process for one
// test, stored in a t.TempDir, and returns its Provider and a context that
// carries it (queue.Connect(ctx) returns its Client). Give the Provider to
// Options.Queues so that the role's hooks reach it too. The server is up
// when Queues returns; the test's cleanup closes it (after what was started
// later, such as an Instance, has stopped) and fails the test if it cannot
// start.
//
// It is fast rather than durable: the store syncs to disk once a minute
// instead of on every write (the host's default, "always"), which no test
// needs since the store is thrown away. Everything else (priorities,
// retries, dead letters, KV locks) is the server the host runs.
func Queues(t testing.TB) (*queue.Provider, context.Context) {
	t.Helper()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatalf("roletest: Queues: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		if err := p.Close(); err != nil {
			t.Errorf("roletest: Queues: closing: %v", err)
		}
	})
	if _, err := p.Client(ctx); err != nil {
		t.Fatalf("roletest: Queues: starting the embedded server: %v", err)
	}
	return p, queue.WithProvider(ctx, p)
}
