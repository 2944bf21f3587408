package durable_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/roletest"
)

func greetStep(_ context.Context, who string) (string, error) { return "hello " + who, nil }

func failStep(context.Context) error { return errors.New("card declined") }

// approval greets, waits for an "approve" event and returns its data;
// with "fail" as input it fails instead.
func approval(ctx workflow.Context, who string) (string, error) {
	if who == "fail" {
		_, err := workflow.ExecuteActivity[any](ctx, workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{MaxAttempts: 1}}, failStep).Get(ctx)
		return "", err
	}
	g, err := workflow.ExecuteActivity[string](ctx, workflow.DefaultActivityOptions, greetStep, who).Get(ctx)
	if err != nil {
		return "", err
	}
	by, _ := workflow.NewSignalChannel[string](ctx, "approve").Receive(ctx)
	return g + ", approved by " + by, nil
}

func registerApproval(h *durable.Hub) {
	if err := h.RegisterOrchestrator(approval); err != nil {
		panic(err)
	}
	if err := h.RegisterActivity(greetStep); err != nil {
		panic(err)
	}
	if err := h.RegisterActivity(failStep); err != nil {
		panic(err)
	}
}

// waitHistory waits until the instance's history has an event of type.
func waitHistory(t *testing.T, ctx context.Context, h *durable.Hub, id, typ string) []durable.HistoryEvent {
	t.Helper()
	changed := time.NewTicker(10 * time.Millisecond) // history changes notify nothing here
	defer changed.Stop()
	for {
		evs, err := h.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(evs, func(e durable.HistoryEvent) bool { return e.Type == typ }) {
			return evs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s in the history of %s: %+v", typ, id, evs)
		case <-changed.C:
		}
	}
}

// History reads an instance's events with their types, times and
// summaries; an unknown instance is ErrNotFound.
func TestHistory(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, registerApproval)
	ctx = within(t, ctx, 30*time.Second)
	must(t, h.Start(ctx, approval, durable.StartOptions{InstanceID: "order-1"}, "ann"))
	evs := waitHistory(t, ctx, h, "order-1", "ActivityCompleted")
	if evs[0].Seq != 1 || evs[0].Time.IsZero() ||
		!slices.ContainsFunc(evs, func(e durable.HistoryEvent) bool {
			return e.Type == "WorkflowExecutionStarted" && e.Summary == "approval on queue default"
		}) {
		t.Fatalf("history: %+v", evs)
	}
	if !slices.ContainsFunc(evs, func(e durable.HistoryEvent) bool { return e.Type == "ActivityScheduled" && e.Summary == "greetStep" }) {
		t.Fatalf("no ActivityScheduled greetStep: %+v", evs)
	}
	must(t, h.RaiseEvent(ctx, "order-1", "approve", "bob"))
	st, err := h.Wait(ctx, "order-1")
	must(t, err)
	if st.RuntimeStatus != durable.Completed || string(st.Output) != `"hello ann, approved by bob"` {
		t.Fatalf("status: %+v", st)
	}
	evs, err = h.History(ctx, "order-1")
	must(t, err)
	if !slices.ContainsFunc(evs, func(e durable.HistoryEvent) bool { return e.Type == "SignalReceived" && e.Summary == "approve" }) ||
		evs[len(evs)-1].Type != "WorkflowExecutionFinished" || evs[len(evs)-1].Summary != "completed" {
		t.Fatalf("history after the event: %+v", evs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq {
			t.Fatalf("history out of order: %+v", evs)
		}
	}
	_, err = h.History(ctx, "nope")
	wantErr(t, err, durable.ErrNotFound)
}

// Figures count executions by orchestrator: started and completed or
// failed by the worker, terminated by the hub that terminated.
func TestOrchestratorFigures(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, registerApproval)
	ctx = within(t, ctx, 30*time.Second)
	for _, id := range []string{"a", "b", "c"} {
		in := "x"
		if id == "b" {
			in = "fail"
		}
		must(t, h.Start(ctx, approval, durable.StartOptions{InstanceID: id}, in))
	}
	waitHistory(t, ctx, h, "a", "ActivityCompleted")
	waitHistory(t, ctx, h, "c", "ActivityCompleted")
	must(t, h.RaiseEvent(ctx, "a", "approve", "bob"))
	must(t, h.Terminate(ctx, "c", "not wanted"))
	for _, id := range []string{"a", "b", "c"} {
		if _, err := h.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	want := durable.OrchestratorFigures{Name: "approval", Started: 3, Completed: 1, Failed: 1, Terminated: 1}
	// The last task's figures are counted just after its write, which
	// Wait may see first.
	for {
		f := h.Figures().Orchestrators
		if len(f) == 1 && f[0] == want {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("figures %+v, want %+v", f, want)
		case <-time.After(10 * time.Millisecond): // counters notify nothing
		}
	}
}

// With NoCreate, a hub that no role opened is ErrNoHub and nothing is
// created; Hubs lists the hubs stored, and only those.
func TestNoCreateAndHubs(t *testing.T) {
	_, ctx := roletest.Queues(t)
	nc := connOf(t, ctx)
	_, err := durable.Open(ctx, durable.Options{Hub: "ghost", NoCreate: true, Conn: nc})
	wantErr(t, err, durable.ErrNoHub)
	js, _ := jetstream.New(nc)
	if _, err := js.Stream(ctx, "DURABLE_ghost"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the stream after a NoCreate open: %v", err)
	}
	hubs, err := durable.Hubs(ctx, nc)
	must(t, err)
	if len(hubs) != 0 {
		t.Fatalf("hubs on a fresh server: %v", hubs)
	}
	for _, name := range []string{"orders", "billing"} {
		h, err := durable.Open(ctx, durable.Options{Hub: name, Conn: nc})
		must(t, err)
		must(t, h.Close())
	}
	// A stream that only looks like one is not a hub.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	hubs, err = durable.Hubs(ctx, nc)
	must(t, err)
	if !slices.Equal(hubs, []string{"billing", "orders"}) {
		t.Fatalf("hubs: %v", hubs)
	}
	h, err := durable.Open(ctx, durable.Options{Hub: "orders", NoCreate: true, Conn: nc})
	must(t, err)
	defer h.Close()
	list, err := h.List(ctx, durable.ListOptions{})
	if err != nil || len(list) != 0 {
		t.Fatalf("list of an empty hub: %v, %v", list, err)
	}
}
