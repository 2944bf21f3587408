package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"

	"github.com/cloudrole/cloudrole/durable"
)

// approveOrder waits for an operator's "approve" event and returns who
// approved the order.
func approveOrder(ctx workflow.Context, order string) (string, error) {
	by, _ := workflow.NewSignalChannel[string](ctx, "approve").Receive(ctx)
	return order + " approved by " + by, nil
}

// orderHub works hub "orders" on the NATS at url from this test process
// (the demo's console reads it from the same server) and starts an
// instance of approveOrder, returning once it runs and waits.
func orderHub(t *testing.T, url, id string) *durable.Hub {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := durable.Open(ctx, durable.Options{Hub: "orders", Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.RegisterOrchestrator(approveOrder); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Work(wctx) }()
	t.Cleanup(func() {
		stop()
		<-done
		h.Close()
		nc.Close()
	})
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.Start(sctx, approveOrder, durable.StartOptions{InstanceID: id}, "order 7"); err != nil {
		t.Fatal(err)
	}
	for {
		st, err := h.Status(sctx, id)
		if err == nil && st.RuntimeStatus == durable.Running {
			return h
		}
		select {
		case <-sctx.Done():
			t.Fatalf("%s never ran: %+v, %v", id, st, err)
		case <-time.After(20 * time.Millisecond): // its first task notifies nothing here
		}
	}
}
