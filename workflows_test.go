package cloudrole

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

func approval(ctx workflow.Context, order string) (string, error) {
	by, _ := workflow.NewSignalChannel[string](ctx, "approve").Receive(ctx)
	return order + " approved by " + by, nil
}

// The workflows verb manages the orchestrations of a running role: it
// finds the role's embedded server through its store, as an operator's
// command would, and starts no server of its own.
func TestWorkflowsVerb(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "nats")
	// The "running role": its embedded server and a hub that works.
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: store, Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(queue.WithProvider(context.Background(), p))
	defer cancel()
	h, err := durable.Open(ctx, durable.Options{Hub: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.RegisterOrchestrator(approval); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Work(ctx) }()
	defer func() { cancel(); <-done }()

	cfg := filepath.Join(dir, "role.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("role: {name: cli-test, data_dir: %q}\nnats: {store_dir: %q}\n", dir, store)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		out := &testutil.Buffer{}
		code := Run(context.Background(), role.Default{}, append(append([]string{"workflows"}, args...), "--hub", "cli", "--config", cfg),
			Options{Name: "orders", Environ: []string{}, Stdout: out, Stderr: out})
		return code, out.String()
	}
	if code, out := run("start", "approval", "order-9", `"order 9"`); code != 0 || !strings.Contains(out, "started approval as order-9") {
		t.Fatalf("start: %d %s", code, out)
	}
	if code, out := run("start", "approval", "order-9", `"again"`); code != lifecycle.ExitError || !strings.Contains(out, "is running") {
		t.Fatalf("second start: %d %s", code, out)
	}
	if code, out := run("raise", "order-9", "approve", `"ops"`); code != 0 || !strings.Contains(out, "raised approve on order-9") {
		t.Fatalf("raise: %d %s", code, out)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if _, err := h.Wait(wctx, "order-9"); err != nil {
		t.Fatal(err)
	}
	code, out := run("status", "order-9")
	var s durable.Status
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.RuntimeStatus != durable.Completed || string(s.Output) != `"order 9 approved by ops"` {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, out := run("start", "approval", "order-10", `"order 10"`); code != 0 {
		t.Fatalf("start 10: %d %s", code, out)
	}
	if code, out := run("list", "--status", "Pending,Running"); code != 0 || !strings.Contains(out, "order-10") || strings.Contains(out, "order-9") {
		t.Fatalf("list running: %d %s", code, out)
	}
	if code, out := run("terminate", "order-10", "customer", "cancelled"); code != 0 || !strings.Contains(out, "terminated order-10") {
		t.Fatalf("terminate: %d %s", code, out)
	}
	if code, out := run("purge", "order-9"); code != 0 || !strings.Contains(out, "purged order-9") {
		t.Fatalf("purge: %d %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"status", "order-9"}, lifecycle.ExitError, "no such orchestration instance"},
		{[]string{"start", "approval", "x", "not json"}, lifecycle.ExitUsage, `"not json" is not JSON`},
		{[]string{"list", "--status", "Asleep"}, lifecycle.ExitUsage, `want one of Pending`},
		{[]string{"frobnicate"}, lifecycle.ExitUsage, `unknown command "frobnicate"`},
		{[]string{"raise", "order-10"}, lifecycle.ExitUsage, "wrong number of arguments"},
	} {
		if code, out := run(tc.args...); code != tc.code || !strings.Contains(out, tc.says) {
			t.Errorf("workflows %v: %d %s; want %d and %q", tc.args, code, out, tc.code, tc.says)
		}
	}
}

// Without a running role the verb says so instead of waiting or starting
// a server.
func TestWorkflowsVerbWithoutRole(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "role.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("role: {name: cli-test, data_dir: %q}\n", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &testutil.Buffer{}
	code := Run(context.Background(), role.Default{}, []string{"workflows", "list", "--config", cfg}, Options{Name: "orders", Environ: []string{}, Stdout: out, Stderr: out})
	if code != lifecycle.ExitError || !strings.Contains(out.String(), "is the role running") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
