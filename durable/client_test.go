package durable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole/durable"
)

func greet(_ context.Context, name string) (string, error) { return "hello " + name, nil }

func greeter(ctx workflow.Context, name string) (string, error) {
	return workflow.ExecuteActivity[string](ctx, workflow.DefaultActivityOptions, greet, name).Get(ctx)
}

func TestStartStatusWait(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(greeter))
		must(t, h.RegisterActivity(greet))
	})
	before := time.Now()
	must(t, h.Start(ctx, greeter, durable.StartOptions{InstanceID: "g-1"}, "ada"))
	s, err := h.Wait(within(t, ctx, 10*time.Second), "g-1")
	must(t, err)
	if s.RuntimeStatus != durable.Completed || string(s.Output) != `"hello ada"` || string(s.Input) != `"ada"` ||
		s.Name != "greeter" || s.InstanceID != "g-1" || s.Failure != nil {
		t.Fatalf("status %+v", s)
	}
	if s.CreatedTime.Before(before.Add(-time.Second)) || s.LastUpdatedTime.Before(s.CreatedTime) {
		t.Fatalf("times: created %v, updated %v (started at %v)", s.CreatedTime, s.LastUpdatedTime, before)
	}
	if _, err := h.Status(ctx, "nobody"); !errors.Is(err, durable.ErrNotFound) {
		t.Fatalf("status of an unknown ID: %v, want ErrNotFound", err)
	}
	// The ID is free again once the instance ended.
	must(t, h.Start(ctx, "greeter", durable.StartOptions{InstanceID: "g-1"}, "bob"))
	s, err = h.Wait(within(t, ctx, 10*time.Second), "g-1")
	must(t, err)
	if string(s.Output) != `"hello bob"` {
		t.Fatalf("second run: %+v", s)
	}
}

func waiter(ctx workflow.Context) (string, error) {
	v, _ := workflow.NewSignalChannel[string](ctx, "approval").Receive(ctx)
	return "approved by " + v, nil
}

func TestSecondStartOfARunningIDFailsAtomically(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	const starters = 50
	var wg sync.WaitGroup
	errs := make(chan error, starters)
	gate := make(chan struct{})
	for range starters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			errs <- h.Start(ctx, waiter, durable.StartOptions{InstanceID: "singleton"})
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, durable.ErrAlreadyRunning):
			t.Fatalf("a starter failed with %v, want ErrAlreadyRunning", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent starts succeeded, want exactly 1", won, starters)
	}
	list, err := h.List(ctx, durable.ListOptions{})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d instances, want 1", len(list))
	}
}

func TestRaiseEvent(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	must(t, h.Start(ctx, waiter, durable.StartOptions{InstanceID: "w-1"}))
	must(t, h.RaiseEvent(ctx, "w-1", "approval", "grace"))
	s, err := h.Wait(within(t, ctx, 10*time.Second), "w-1")
	must(t, err)
	if s.RuntimeStatus != durable.Completed || string(s.Output) != `"approved by grace"` {
		t.Fatalf("status %+v", s)
	}
	wantErr(t, h.RaiseEvent(ctx, "w-1", "approval", "late"), durable.ErrNotRunning)
	wantErr(t, h.RaiseEvent(ctx, "nobody", "approval", "x"), durable.ErrNotFound)
}

func TestTerminate(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	must(t, h.Start(ctx, waiter, durable.StartOptions{InstanceID: "t-1"}))
	// Let it run: it then waits for its event.
	waitStatus(t, ctx, h, "t-1", durable.Running)
	must(t, h.Terminate(ctx, "t-1", "operator said so"))
	s, err := h.Wait(within(t, ctx, 10*time.Second), "t-1")
	must(t, err)
	if s.RuntimeStatus != durable.Terminated || s.Failure == nil || s.Failure.Message != "operator said so" {
		t.Fatalf("status %+v", s)
	}
	wantErr(t, h.Terminate(ctx, "t-1", "again"), durable.ErrNotRunning)
	wantErr(t, h.Terminate(ctx, "nobody", "x"), durable.ErrNotFound)
	// An event raised afterwards reaches nothing: the orchestrator does
	// not run again.
	wantErr(t, h.RaiseEvent(ctx, "t-1", "approval", "too late"), durable.ErrNotRunning)
}

func TestPurge(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	must(t, h.Start(ctx, waiter, durable.StartOptions{InstanceID: "p-1"}))
	wantErr(t, h.Purge(ctx, "p-1"), durable.ErrRunning)
	must(t, h.RaiseEvent(ctx, "p-1", "approval", "x"))
	_, err := h.Wait(within(t, ctx, 10*time.Second), "p-1")
	must(t, err)
	must(t, h.Purge(ctx, "p-1"))
	_, err = h.Status(ctx, "p-1")
	wantErr(t, err, durable.ErrNotFound)
	wantErr(t, h.Purge(ctx, "p-1"), durable.ErrNotFound)
}

func TestListByStatus(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(waiter))
		must(t, h.RegisterOrchestrator(greeter))
		must(t, h.RegisterOrchestrator(failing))
		must(t, h.RegisterActivity(greet))
	})
	for i := range 3 {
		must(t, h.Start(ctx, waiter, durable.StartOptions{InstanceID: fmt.Sprintf("wait-%d", i)}))
	}
	for i := range 2 {
		id := fmt.Sprintf("done-%d", i)
		must(t, h.Start(ctx, greeter, durable.StartOptions{InstanceID: id}, "x"))
		_, err := h.Wait(within(t, ctx, 10*time.Second), id)
		must(t, err)
	}
	done, err := h.List(ctx, durable.ListOptions{RuntimeStatus: []durable.RuntimeStatus{durable.Completed}, ShowInput: true})
	must(t, err)
	if len(done) != 2 || string(done[0].Output) != `"hello x"` {
		t.Fatalf("completed: %d, first %+v", len(done), done[0])
	}
	must(t, h.Start(ctx, failing, durable.StartOptions{InstanceID: "failed"}))
	_, err = h.Wait(within(t, ctx, 10*time.Second), "failed")
	must(t, err)
	failed, err := h.List(ctx, durable.ListOptions{RuntimeStatus: []durable.RuntimeStatus{durable.Failed}})
	must(t, err)
	if len(failed) != 1 || failed[0].Failure == nil || failed[0].Failure.Message != "out of stock" {
		t.Fatalf("failed (listed without inputs): %+v", failed)
	}
	open, err := h.List(ctx, durable.ListOptions{RuntimeStatus: []durable.RuntimeStatus{durable.Pending, durable.Running}})
	must(t, err)
	if len(open) != 3 {
		t.Fatalf("%d pending or running, want 3", len(open))
	}
	for _, s := range open {
		if !strings.HasPrefix(s.InstanceID, "wait-") {
			t.Fatalf("listed %s as pending or running", s.InstanceID)
		}
	}
}

func TestUnknownOrchestrator(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	err := h.Start(ctx, "wiater", durable.StartOptions{InstanceID: "u-1"})
	wantErr(t, err, durable.ErrUnknownOrchestrator)
	if !strings.Contains(err.Error(), `"wiater"`) || !strings.Contains(err.Error(), "waiter") {
		t.Fatalf("the error should name what was asked and what there is: %v", err)
	}
	wantErr(t, h.Start(ctx, waiter, durable.StartOptions{}), durable.ErrInvalidOptions)
}

// waitStatus waits until the instance reaches want.
func waitStatus(t *testing.T, ctx context.Context, h *durable.Hub, id string, want durable.RuntimeStatus) *durable.Status {
	t.Helper()
	ctx = within(t, ctx, 10*time.Second)
	for {
		s, err := h.Status(ctx, id)
		if err == nil && s.RuntimeStatus == want {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never reached %s (last %+v, %v)", id, want, s, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
