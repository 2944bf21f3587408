package durable_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/cloudrole/cloudrole/durable"
)

func unregisteredStep(context.Context) (int, error) { return 0, nil }

func callsUnregistered(ctx workflow.Context) (int, error) {
	return workflow.ExecuteActivity[int](ctx, workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{MaxAttempts: 1}}, unregisteredStep).Get(ctx)
}

func double(_ workflow.Context, n int) (int, error) { return 2 * n, nil }

var replays atomic.Int64

func stepA(context.Context) (string, error) { return "a", nil }
func stepB(context.Context) (string, error) { return "b", nil }

// nondeterministic calls a different activity each time its code runs:
// a replay does not match the history.
func nondeterministic(ctx workflow.Context) (string, error) {
	step := stepA
	if replays.Add(1)%2 == 0 {
		step = stepB
	}
	if _, err := workflow.ExecuteActivity[string](ctx, workflow.DefaultActivityOptions, step).Get(ctx); err != nil {
		return "", err
	}
	_, err := workflow.ExecuteActivity[string](ctx, workflow.DefaultActivityOptions, stepA).Get(ctx)
	return "done", err
}

// Bad input fails what it concerns, with an error that names what is
// wrong, and blocks nothing else: a healthy orchestration started
// meanwhile completes.
func TestBadInputFailsClearlyAndBlocksNothing(t *testing.T) {
	// A cache of one executor: each task of one instance after another's
	// replays its history, as after a restart.
	h, ctx := openHub(t, durable.Options{ExecutorCache: 1, MaxOrchestrations: 1}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(callsUnregistered))
		must(t, h.RegisterOrchestrator(double))
		must(t, h.RegisterOrchestrator(nondeterministic))
		must(t, h.RegisterOrchestrator(greeter))
		must(t, h.RegisterActivity(greet))
		must(t, h.RegisterActivity(stepA))
		must(t, h.RegisterActivity(stepB))
	})
	wait := func(id string) *durable.Status {
		t.Helper()
		s, err := h.Wait(within(t, ctx, 20*time.Second), id)
		must(t, err)
		return s
	}
	must(t, h.Start(ctx, greeter, durable.StartOptions{InstanceID: "healthy"}, "ok"))

	// An activity no worker registered: the orchestrator gets an error
	// that names it.
	must(t, h.Start(ctx, callsUnregistered, durable.StartOptions{InstanceID: "unregistered"}))
	if s := wait("unregistered"); s.RuntimeStatus != durable.Failed || !strings.Contains(s.Failure.Message, `activity "unregisteredStep" is not registered`) {
		t.Fatalf("unregistered activity: %+v %+v", s, s.Failure)
	}
	// An input that does not decode: refused at the start, naming the
	// orchestrator, the input and the type.
	err := h.Start(ctx, "double", durable.StartOptions{InstanceID: "bad-input"}, map[string]int{"n": 1})
	if !errors.Is(err, durable.ErrInvalidInput) || !strings.Contains(err.Error(), `orchestrator "double" input 1 ({"n":1}) does not decode into int`) {
		t.Fatalf("undecodable input: %v", err)
	}
	if err := h.Start(ctx, "double", durable.StartOptions{InstanceID: "bad-count"}); !errors.Is(err, durable.ErrInvalidInput) || !strings.Contains(err.Error(), "takes 1 input(s) [int], got 0") {
		t.Fatalf("missing input: %v", err)
	}
	// A replay that does not match the history fails the instance saying so.
	must(t, h.Start(ctx, nondeterministic, durable.StartOptions{InstanceID: "nondeterministic"}))
	for i := range 3 { // other instances' tasks push it out of the cache between its own
		must(t, h.Start(ctx, double, durable.StartOptions{InstanceID: "evict-" + string(rune('a'+i))}, i))
	}
	if s := wait("nondeterministic"); s.RuntimeStatus != durable.Failed || !strings.Contains(s.Failure.Message, "previous workflow execution scheduled different type of activity") {
		t.Fatalf("non-deterministic orchestrator: %+v %+v", s, s.Failure)
	}
	// An unknown instance.
	if _, err := h.Status(ctx, "nobody"); !errors.Is(err, durable.ErrNotFound) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("unknown instance: %v", err)
	}
	if s := wait("healthy"); s.RuntimeStatus != durable.Completed {
		t.Fatalf("the healthy orchestration: %+v", s)
	}
}

func bigResult(context.Context, int) (string, error) { return strings.Repeat("x", 128<<10), nil }

func wantsBig(ctx workflow.Context) (string, error) {
	return workflow.ExecuteActivity[string](ctx, workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{MaxAttempts: 1}}, bigResult, 1).Get(ctx)
}

func echoes(_ workflow.Context, s string) (string, error) { return s, nil }

// On a server that takes at most 64 KiB per message: an input too large
// is refused at the start with the sizes, an activity result too large
// fails the activity, and an orchestration whose own output is too large
// fails instead of retrying for ever.
func TestOversizedPayloads(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		MaxPayload: 64 << 10, NoLog: true, NoSigs: true, SyncInterval: time.Minute})
	must(t, err)
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	t.Cleanup(nc.Close)
	ctx := t.Context()
	h, err := durable.Open(ctx, durable.ShortWait(durable.Options{Hub: "big", Conn: nc}))
	must(t, err)
	must(t, h.RegisterOrchestrator(wantsBig))
	must(t, h.RegisterOrchestrator(echoes))
	must(t, h.RegisterActivity(bigResult))
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Work(wctx) }()
	t.Cleanup(func() { stop(); <-done; h.Close() })

	err = h.Start(ctx, echoes, durable.StartOptions{InstanceID: "big-input"}, strings.Repeat("y", 100<<10))
	if !errors.Is(err, durable.ErrTooLarge) || !strings.Contains(err.Error(), "the server's maximum payload is 65536") {
		t.Fatalf("input too large: %v", err)
	}
	must(t, h.Start(ctx, wantsBig, durable.StartOptions{InstanceID: "big-result"}))
	s, err := h.Wait(within(t, ctx, 20*time.Second), "big-result")
	must(t, err)
	if s.RuntimeStatus != durable.Failed || !strings.Contains(s.Failure.Message, `the result of activity bigResult is too large to store`) {
		t.Fatalf("result too large: %+v %+v", s, s.Failure)
	}
	// 40 KiB fits as an input; the output repeats it beside the history
	// that holds the input: the commit does not fit.
	must(t, h.Start(ctx, echoes, durable.StartOptions{InstanceID: "big-output"}, strings.Repeat("z", 40<<10)))
	s, err = h.Wait(within(t, ctx, 20*time.Second), "big-output")
	must(t, err)
	if s.RuntimeStatus != durable.Failed || !strings.Contains(s.Failure.Message, "cannot store") {
		t.Fatalf("output too large: %+v %+v", s, s.Failure)
	}
}
