package durable_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole/durable"
)

var flakyCalls atomic.Int64

// flaky fails its first two calls.
func flaky(context.Context) (int64, error) {
	if n := flakyCalls.Add(1); n < 3 {
		return 0, errors.New("not yet")
	}
	return flakyCalls.Load(), nil
}

func retrying(ctx workflow.Context) (int64, error) {
	return workflow.ExecuteActivity[int64](ctx, workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{
		MaxAttempts: 3, FirstRetryInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaxRetryInterval: time.Second,
	}}, flaky).Get(ctx)
}

func TestActivityRetryOptions(t *testing.T) {
	flakyCalls.Store(0)
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(retrying))
		must(t, h.RegisterActivity(flaky))
	})
	start := time.Now()
	must(t, h.Start(ctx, retrying, durable.StartOptions{InstanceID: "r-1"}))
	s, err := h.Wait(within(t, ctx, 20*time.Second), "r-1")
	must(t, err)
	if s.RuntimeStatus != durable.Completed || string(s.Output) != "3" {
		t.Fatalf("status %+v", s)
	}
	if n := flakyCalls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3 (two failures, then the success)", n)
	}
	// Retries wait FirstRetryInterval, then that times BackoffCoefficient.
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("done in %v: the retries did not wait 100ms then 200ms", took)
	}
}

var refusals atomic.Int64

func refuse(context.Context, string) error {
	refusals.Add(1)
	return errors.New("card declined")
}

// compensating handles its activity's failure: the error reaches it after
// the retries, and it decides what to do.
func compensating(ctx workflow.Context, card string) (string, error) {
	_, err := workflow.ExecuteActivity[any](ctx, workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{
		MaxAttempts: 2, FirstRetryInterval: 10 * time.Millisecond,
	}}, refuse, card).Get(ctx)
	var werr *workflow.Error
	if errors.As(err, &werr) {
		return "compensated: " + werr.Message, nil
	}
	return "", errors.New("the activity's failure did not reach the orchestrator as a *workflow.Error")
}

func TestActivityFailureReachesTheOrchestrator(t *testing.T) {
	refusals.Store(0)
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(compensating))
		must(t, h.RegisterActivity(refuse))
	})
	must(t, h.Start(ctx, compensating, durable.StartOptions{InstanceID: "c-1"}, "4111"))
	s, err := h.Wait(within(t, ctx, 20*time.Second), "c-1")
	must(t, err)
	if s.RuntimeStatus != durable.Completed || string(s.Output) != `"compensated: card declined"` {
		t.Fatalf("status %+v", s)
	}
	if n := refusals.Load(); n != 2 {
		t.Fatalf("%d attempts, want MaxAttempts 2", n)
	}
}

func failing(workflow.Context) (int, error) { return 0, errors.New("out of stock") }

func TestFailedStatus(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(failing)) })
	must(t, h.Start(ctx, failing, durable.StartOptions{InstanceID: "f-1"}))
	s, err := h.Wait(within(t, ctx, 20*time.Second), "f-1")
	must(t, err)
	if s.RuntimeStatus != durable.Failed || s.Failure == nil || s.Failure.Message != "out of stock" {
		t.Fatalf("status %+v", s)
	}
}
