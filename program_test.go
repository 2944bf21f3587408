package cloudrole

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/role"
)

type stopRole struct {
	role.Default
	started chan struct{}
	mu      sync.Mutex
	cause   error
	stopped bool
}

func (r *stopRole) OnStart(context.Context, role.Env) error { close(r.started); return nil }

func (r *stopRole) Run(ctx context.Context, _ role.Env) error {
	<-ctx.Done()
	r.mu.Lock()
	r.cause = context.Cause(ctx)
	r.mu.Unlock()
	return nil
}

func (r *stopRole) OnStop(context.Context, role.Env) error {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	return nil
}

// The service manager's side, driven directly as kardianos (and our
// Windows handler) drive it: Start returns at once with the role coming
// up; Stop is the graceful stop — Run's context ends with ErrServiceStop
// as its cause, OnStop runs — and returns once the host has ended, with
// exit code 0.
func TestServiceStartStop(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "role.yaml")
	if err := os.WriteFile(cfg, []byte("role: {name: svc, data_dir: "+dir+"}\nhealth: {addr: \"127.0.0.1:0\"}\nhost: {stop_timeout: 20s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &stopRole{started: make(chan struct{})}
	logs := &testutil.Buffer{}
	p := newProgram(func(ctx context.Context) int {
		return Run(ctx, r, []string{"run", "--config", cfg}, Options{Name: "svc", Stdout: logs, Stderr: logs, Environ: []string{}})
	}, 20*time.Second)

	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.started:
	case <-time.After(30 * time.Second):
		t.Fatalf("the role never started:\n%s", logs.String())
	}
	begun := time.Now()
	if err := p.Stop(nil); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(begun)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped || !errors.Is(r.cause, ErrServiceStop) {
		t.Fatalf("after Stop: OnStop called %v, Run's cause %v; want OnStop and ErrServiceStop", r.stopped, r.cause)
	}
	if p.code != 0 {
		t.Fatalf("exit code %d after a service stop; want 0", p.code)
	}
	if !strings.Contains(logs.String(), "service stop requested") {
		t.Fatalf("the stop's cause is not in the logs:\n%s", logs.String())
	}
	t.Logf("service stop took %v", took)
}

// Stop before Start (the manager gave up early) is a no-op.
func TestServiceStopBeforeStart(t *testing.T) {
	p := newProgram(func(context.Context) int { return 0 }, time.Second)
	if err := p.Stop(nil); err != nil {
		t.Fatal(err)
	}
}
