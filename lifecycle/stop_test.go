package lifecycle

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/startup"
)

// An OnStop that never returns: at the stop deadline the host names the
// stuck hook, dumps the goroutine stacks and exits with ExitStopTimeout.
func TestStopDeadlineForcesExit(t *testing.T) {
	release := make(chan struct{})
	defer close(release) // let the abandoned OnStop goroutine end for goleak
	cfg := testConfig(t)
	cfg.Host.StopTimeout = 300 * time.Millisecond
	r := &testRole{onStop: func(context.Context, role.Env) error { <-release; return nil }}
	hs := startHost(t, r, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))

	start := time.Now()
	hs.h.Stop(nil)
	err := hs.wait()
	elapsed := time.Since(start)
	var forced *ForcedExitError
	if !errors.As(err, &forced) || forced.Code != ExitStopTimeout || ExitCode(err) != ExitStopTimeout {
		t.Fatalf("Run = %v; want a forced exit with code %d", err, ExitStopTimeout)
	}
	if !strings.Contains(forced.Reason, "stuck in OnStop") {
		t.Fatalf("reason %q does not name the stuck hook", forced.Reason)
	}
	if code := <-hs.exits; code != ExitStopTimeout {
		t.Fatalf("Exit(%d); want %d", code, ExitStopTimeout)
	}
	if elapsed < cfg.Host.StopTimeout {
		t.Fatalf("forced after %v, before the %v deadline", elapsed, cfg.Host.StopTimeout)
	}
	if dump := hs.stacks.String(); !strings.Contains(dump, "goroutine ") || !strings.Contains(dump, "stuck in OnStop") {
		t.Fatalf("stack dump missing:\n%s", dump)
	}
}

// An in-process recycle has the same deadline: a Run that ignores its
// cancelled context is reported as stuck in Run.
func TestRecycleDeadlineNamesRun(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	cfg := testConfig(t)
	cfg.Host.StopTimeout = 200 * time.Millisecond
	r := &testRole{run: func(ctx context.Context, env role.Env) error {
		env.RequestRecycle("test")
		<-release // ignores ctx
		return nil
	}}
	hs := startHost(t, r, cfg, nil)
	var forced *ForcedExitError
	if err := hs.wait(); !errors.As(err, &forced) || !strings.Contains(forced.Reason, "stuck in Run") {
		t.Fatalf("Run = %v; want a forced exit stuck in Run", err)
	}
}

// A second signal during the stop exits at once with ExitForced.
func TestSecondSignalForcesExit(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	r := &testRole{onStop: func(context.Context, role.Env) error { <-release; return nil }}
	hs := startHost(t, r, testConfig(t), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.sigs <- os.Interrupt
	hs.rec.waitN(t, "stopping", 1, state(StateStopping, 1))
	hs.sigs <- os.Interrupt
	var forced *ForcedExitError
	if err := hs.wait(); !errors.As(err, &forced) || forced.Code != ExitForced {
		t.Fatalf("Run = %v; want ExitForced", err)
	}
}

// Stop before Run, and Stop twice: Run returns at once, cleanly, even when
// it comes after the stop deadline would have passed (it used to force the
// exit: no stop deadline may run before Run).
func TestStopBeforeRunAndTwice(t *testing.T) {
	r := &testRole{}
	cfg := testConfig(t)
	cfg.Host.StopTimeout = 50 * time.Millisecond
	exited := make(chan int, 1)
	h, err := New(r, cfg, Options{Exit: func(code int) { exited <- code }})
	if err != nil {
		t.Fatal(err)
	}
	h.Stop(nil)
	h.Stop(errors.New("again"))
	select {
	case code := <-exited:
		t.Fatalf("the host exited (%d) after a Stop before Run", code)
	case <-time.After(3 * cfg.Host.StopTimeout): // the deadline would have passed
	}
	if err := h.Run(context.Background()); err != nil {
		t.Fatalf("Run after Stop = %v", err)
	}
	if err := h.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Fatalf("second Run = %v; want ErrAlreadyRun", err)
	}
	if r.count("OnStart") != 0 {
		t.Fatal("OnStart ran on a host stopped before Run")
	}
}

// The caller's context stops the host like a signal.
func TestContextStopsHost(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &testRole{}
	cfg := testConfig(t)
	cfg.Health.Addr = "off"
	h, err := New(r, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	cancel(errors.New("deploy finished"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

// A failing simple startup task fails the start: OnStart is never called,
// the start is retried, and the reason names the task.
func TestSimpleStartupTaskFailureRetries(t *testing.T) {
	cfg := testConfig(t)
	cfg.Startup = []startup.Task{{Name: "migrate", Kind: startup.Simple, Command: []string{"sh", "-c", "echo cannot migrate >&2; exit 1"}}}
	r := &testRole{}
	hs := startHost(t, r, cfg, nil)
	for n := 1; n <= 2; n++ {
		rec := hs.rec.waitN(t, "recycle", n, recycled).(Recycled)
		if !strings.Contains(rec.Reason, "startup task failed") || !strings.Contains(rec.Reason, "migrate") || !rec.Failed {
			t.Fatalf("recycle %d = %+v", n, rec.Recycle)
		}
	}
	if got := r.count("OnStart"); got != 0 {
		t.Fatalf("OnStart called %d times despite the failed startup task", got)
	}
	if !strings.Contains(hs.logs.String(), "cannot migrate") {
		t.Fatalf("the task's stderr is not in the logs:\n%s", hs.logs.String())
	}
}

// Startup tasks see the role identity as environment variables.
func TestStartupTasksSeeIdentity(t *testing.T) {
	out := tempPath(t, "identity")
	cfg := testConfig(t)
	cfg.Startup = []startup.Task{{Name: "identity", Kind: startup.Simple, Command: []string{"sh", "-c",
		`echo "$CLOUDROLE_ROLE $CLOUDROLE_INSTANCE_ID $CLOUDROLE_DEPLOYMENT $CLOUDROLE_INCARNATION" > "$OUT"`},
		Env: map[string]string{"OUT": out}}}
	hs := startHost(t, &testRole{}, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), "testrole testrole_testhost default 1"; got != want {
		t.Fatalf("identity seen by the task = %q; want %q", got, want)
	}
	st := hs.status()
	if len(st.StartupTasks) != 1 || st.StartupTasks[0].Name != "identity" {
		t.Fatalf("startup results in status = %+v", st.StartupTasks)
	}
}

// A foreground startup task holds the end of the stop until it exits.
func TestForegroundTaskDelaysStop(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.Startup = []startup.Task{{Name: "flush", Kind: startup.Foreground, Command: []string{"sh", "-c",
		`while [ ! -f release ]; do sleep 0.01; done; touch exited`}, Dir: dir}}
	hs := startHost(t, &testRole{}, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.h.Stop(nil)
	hs.rec.waitN(t, "stopping", 1, state(StateStopping, 1))
	select {
	case err := <-hs.done:
		t.Fatalf("Run returned (%v) while the foreground task was still running", err)
	default:
	}
	if err := os.WriteFile(dir+"/release", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := hs.wait(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := os.Stat(dir + "/exited"); err != nil {
		t.Fatalf("Run returned before the foreground task exited: %v", err)
	}
}

// A background task that ignores SIGTERM is killed within the stop
// deadline: with stop_timeout 2s (less than the 5s TERM→KILL grace) and
// hooks that return at once, the stop ends cleanly, not in a forced exit.
func TestBackgroundTaskIgnoringTermFitsTheDeadline(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.Host.StopTimeout = 2 * time.Second
	cfg.Startup = []startup.Task{{Name: "agent", Kind: startup.Background, Command: []string{"sh", "-c",
		`trap '' TERM; touch ready; while :; do sleep 0.05; done`}, Dir: dir}}
	hs := startHost(t, &testRole{}, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	if !waitForFile(dir + "/ready") {
		t.Fatal("the background task never started")
	}
	hs.h.Stop(nil)
	if err := hs.wait(); err != nil {
		t.Fatalf("Run = %v; want a clean stop within the deadline", err)
	}
}

// A foreground task that never exits is named, with the phase, when the
// deadline passes.
func TestStuckForegroundTaskNamed(t *testing.T) {
	cfg := testConfig(t)
	cfg.Host.StopTimeout = 300 * time.Millisecond
	cfg.Startup = []startup.Task{{Name: "flush", Kind: startup.Foreground, Command: []string{"sh", "-c", `while :; do sleep 0.05; done`}}}
	hs := startHost(t, &testRole{}, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.h.Stop(nil)
	var forced *ForcedExitError
	if err := hs.wait(); !errors.As(err, &forced) || !strings.Contains(forced.Reason, `stopping startup tasks: foreground task "flush" still running`) {
		t.Fatalf("Run = %v; want a forced exit naming the phase and the task", err)
	}
}

// waitForFile reports whether path appears within waitTimeout (a child
// process creates it; nothing notifies us, so this polls).
func waitForFile(path string) bool {
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// A role whose work is done asks the host to stop: a clean stop, Run's
// context cause naming the reason, OnStop called, Run returning nil.
func TestRequestStop(t *testing.T) {
	causes := make(chan error, 1)
	r := &testRole{run: func(ctx context.Context, env role.Env) error {
		env.RequestStop("all orders done")
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil
	}}
	hs := startHost(t, r, testConfig(t), nil)
	if err := hs.wait(); err != nil {
		t.Fatalf("Run = %v; want a clean stop", err)
	}
	if c := <-causes; c == nil || !errors.Is(c, ErrStopping) || !strings.Contains(c.Error(), "all orders done") {
		t.Fatalf("Run's context cause %v; want the host stopping with the reason", c)
	}
	if r.count("OnStop") != 1 || r.count("OnStart") != 1 {
		t.Fatalf("OnStart %d, OnStop %d; want 1 each (no recycle)", r.count("OnStart"), r.count("OnStop"))
	}
}
