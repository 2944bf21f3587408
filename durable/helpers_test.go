package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/roletest"
)

var hubs atomic.Int64

// openHub opens a hub of its own on a test server, registers with reg and
// runs its workers until the test ends.
func openHub(t *testing.T, opts durable.Options, reg func(*durable.Hub)) (*durable.Hub, context.Context) {
	t.Helper()
	_, ctx := roletest.Queues(t)
	if opts.Hub == "" {
		opts.Hub = fmt.Sprintf("t%d", hubs.Add(1))
	}
	h, err := durable.Open(ctx, durable.ShortWait(opts))
	if err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		reg(h)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Work(wctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Work: %v", err)
		}
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h, ctx
}

// within returns a context that ends after d.
func within(t *testing.T, ctx context.Context, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// connOf is the NATS connection the test's hubs use.
func connOf(t *testing.T, ctx context.Context) *nats.Conn {
	t.Helper()
	c, err := queue.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c.Conn()
}
