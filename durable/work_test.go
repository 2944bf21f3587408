package durable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/roletest"
)

var (
	slowStarted = make(chan struct{}, 1)
	slowRelease = make(chan struct{})
)

func slowStep(context.Context) (string, error) {
	slowStarted <- struct{}{}
	<-slowRelease
	return "done", nil
}

func slowOrchestration(ctx workflow.Context) (string, error) {
	return workflow.ExecuteActivity[string](ctx, workflow.DefaultActivityOptions, slowStep).Get(ctx)
}

// When Work's context ends it stops taking tasks and waits for the ones
// running; the status section is there while it works.
func TestWorkDrainsAndShowsStatus(t *testing.T) {
	_, ctx := roletest.Queues(t)
	host := hostctx.New(nil, nil)
	ctx = hostctx.With(ctx, host)
	h, err := durable.Open(ctx, durable.ShortWait(durable.Options{Hub: "drain"}))
	must(t, err)
	defer h.Close()
	must(t, h.RegisterOrchestrator(slowOrchestration))
	must(t, h.RegisterActivity(slowStep))
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Work(wctx) }()
	must(t, h.Start(ctx, slowOrchestration, durable.StartOptions{InstanceID: "slow"}))
	select {
	case <-slowStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the activity never started")
	}
	snap := host.Status.Snapshot()
	hs, ok := snap["durable:drain"].(durable.HubStatus)
	if !ok || !hs.Working || hs.Activities != 1 {
		t.Fatalf("status section: %#v", snap["durable:drain"])
	}
	stop()
	select {
	case err := <-done:
		t.Fatalf("Work returned (%v) while its activity still ran", err)
	case <-time.After(100 * time.Millisecond): // it must still be waiting
	}
	close(slowRelease)
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Work did not return after its activity finished")
	}
	if _, ok := host.Status.Snapshot()["durable:drain"]; ok {
		t.Fatal("the status section outlived Work")
	}
	// The drained activity's result was stored: a worker started again
	// completes the orchestration.
	h2, err := durable.Open(ctx, durable.ShortWait(durable.Options{Hub: "drain"}))
	must(t, err)
	defer h2.Close()
	must(t, h2.RegisterOrchestrator(slowOrchestration))
	must(t, h2.RegisterActivity(slowStep))
	w2, stop2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- h2.Work(w2) }()
	s, err := h2.Wait(within(t, ctx, 10*time.Second), "slow")
	stop2()
	must(t, <-done2)
	must(t, err)
	if s.RuntimeStatus != durable.Completed || string(s.Output) != `"done"` {
		t.Fatalf("status %+v", s)
	}
}

func TestWorkOnce(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, nil)
	deadline := time.Now().Add(10 * time.Second)
	for !h.Figures().Working {
		if time.Now().After(deadline) {
			t.Fatal("the hub never started working")
		}
		<-time.After(5 * time.Millisecond)
	}
	err := h.Work(ctx)
	if !errors.Is(err, durable.ErrInvalidOptions) {
		t.Fatalf("a second Work: %v", err)
	}
}
