package lifecycle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// durableAPIRole serves durable's management API on the host's server and
// works its hub.
type durableAPIRole struct{ durableRole }

func (r *durableAPIRole) Routes(mux *http.ServeMux) {
	durable.Routes(mux, durable.HTTPOptions{Options: durable.Options{Hub: "lifecycle"}})
}

func (r *durableAPIRole) Run(ctx context.Context, _ role.Env) error { return r.hub.Work(ctx) }

// On the host's server durable's actions need the console's operator
// token, as the jobs API's do: none configured is 403, a missing or wrong
// one 401, even from loopback; reads are open to loopback.
func TestDurableAPINeedsOperatorToken(t *testing.T) {
	hs := startHost(t, &durableAPIRole{}, testConfig(t), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	if code, body := hs.post("/durable/orchestrators/durableEcho/a", ""); code != http.StatusForbidden || !strings.Contains(body, "none is configured") {
		t.Fatalf("start with no operator token configured = %d %s", code, body)
	}

	const token = "durable-operator-token-0123456789"
	cfg := testConfig(t)
	cfg.NATS.Sync = "1m"
	cfg.Console.Token = token
	hs = startHost(t, &durableAPIRole{}, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	for _, bearer := range []string{"", "wrong-token-0123456789"} {
		if code, body := hs.post("/durable/orchestrators/durableEcho/b", bearer); code != http.StatusUnauthorized {
			t.Fatalf("start with token %q = %d %s", bearer, code, body)
		}
	}
	req, _ := http.NewRequest("POST", hs.base+"/durable/orchestrators/durableEcho/b", strings.NewReader(`"hi"`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), `"statusQueryGetUri"`) {
		t.Fatalf("start with the token = %d %s", resp.StatusCode, body)
	}
	// Reads are open to loopback: the status, 202 until it completes.
	eventually(t, func() bool {
		code, body := hs.get("/durable/instances/b")
		return code == http.StatusOK && strings.Contains(body, `"runtimeStatus": "Completed"`)
	}, func() string { code, body := hs.get("/durable/instances/b"); return fmt.Sprint(code, body) })
}
