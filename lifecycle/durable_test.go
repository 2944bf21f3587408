package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/role"
)

func durableEcho(_ workflow.Context, s string) (string, error) { return s, nil }

// durableRole opens a hub in OnStart, works it in Run and closes it in
// OnStop, as a role does.
type durableRole struct {
	testRole
	hub  *durable.Hub
	done chan *durable.Status
}

func (r *durableRole) OnStart(ctx context.Context, _ role.Env) error {
	h, err := durable.Open(ctx, durable.Options{Hub: "lifecycle"})
	if err != nil {
		return err
	}
	r.hub = h
	return h.RegisterOrchestrator(durableEcho)
}

func (r *durableRole) Run(ctx context.Context, _ role.Env) error {
	go func() {
		if err := r.hub.Start(ctx, durableEcho, durable.StartOptions{InstanceID: "echo"}, "hi"); err != nil {
			return
		}
		if s, err := r.hub.Wait(ctx, "echo"); err == nil {
			r.done <- s
		}
	}()
	return r.hub.Work(ctx)
}

func (r *durableRole) OnStop(context.Context, role.Env) error { return r.hub.Close() }

// A hub's workers run with the role and stop with it, and /status shows
// the hub as a typed section.
func TestDurableHubInStatus(t *testing.T) {
	cfg := testConfig(t)
	cfg.NATS.Sync = "1m"
	r := &durableRole{done: make(chan *durable.Status, 1)}
	hs := startHost(t, r, cfg, nil)
	select {
	case s := <-r.done:
		if s.RuntimeStatus != durable.Completed || string(s.Output) != `"hi"` {
			t.Fatalf("orchestration: %+v", s)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the orchestration never completed")
	}
	st := hs.status()
	if len(st.Durable) != 1 || st.Durable[0].Hub != "lifecycle" || !st.Durable[0].Working || st.Durable[0].OrchestratorTasksDone < 1 {
		t.Fatalf("status durable section = %+v", st.Durable)
	}
	if _, ok := st.Components["durable:lifecycle"]; ok {
		t.Fatal("the hub's section is left in Components")
	}
}
