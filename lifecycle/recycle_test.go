package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/role"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.ServerGoroutines...) }

// OnStart fails every time: OnStop still runs, each failure is recorded with
// its reason, the delay before the next start doubles on the injected clock,
// and after max_failures the host freezes itself until a reload.
func TestOnStartFailureBacksOffThenFreezes(t *testing.T) {
	clock := clockwork.NewFakeClock()
	cfg := testConfig(t)
	cfg.Host.BackoffBase = time.Second
	cfg.Host.BackoffMax = time.Minute
	cfg.Host.MaxFailures = 3
	r := &testRole{onStart: func(context.Context, role.Env) error { return errors.New("db unreachable") }}
	hs := startHost(t, r, cfg, func(o *Options) { o.Clock = clock })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	wantDelays := []time.Duration{time.Second, 2 * time.Second}
	for n, delay := range wantDelays {
		rec := hs.rec.waitN(t, "recycle", n+1, recycled).(Recycled)
		if rec.Reason != "OnStart failed: db unreachable" || !rec.Failed || time.Duration(rec.Delay) != delay {
			t.Fatalf("recycle %d = %+v; want OnStart failure with delay %v", n+1, rec.Recycle, delay)
		}
		if got := r.count("OnStop"); got != n+1 {
			t.Fatalf("OnStop called %d times after %d failed starts", got, n+1)
		}
		// The host is waiting on the clock: nothing starts before the
		// delay has passed.
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(delay - time.Millisecond)
		if got := r.count("OnStart"); got != n+1 {
			t.Fatalf("OnStart ran %d times before the backoff of %v passed", got, delay)
		}
		hs.expect("/readyz", 503, "recycling")
		clock.Advance(time.Millisecond)
	}

	// The third consecutive failure reaches max_failures: frozen, live,
	// not ready, no more restarts.
	hs.rec.waitN(t, "auto-freeze", 1, state(StateFrozen, 0))
	hs.expect("/readyz", 503, "frozen: crash loop: 3 consecutive failed instances")
	hs.expect("/livez", 200, "ok")
	st := hs.status()
	if st.Recycles != 3 || st.ConsecutiveFailures != 3 || len(st.RecycleHistory) != 3 {
		t.Fatalf("status = recycles %d, failures %d, history %d; want 3, 3, 3", st.Recycles, st.ConsecutiveFailures, len(st.RecycleHistory))
	}
	if got := r.count("OnStart"); got != 3 {
		t.Fatalf("OnStart ran %d times; want 3 then frozen", got)
	}

	// SIGHUP (Reload) lifts the auto-freeze: the role starts again at once.
	hs.h.Reload()
	hs.rec.waitN(t, "restart after unfreeze", 1, state(StateOnStart, 4))
}

func (hs *harness) status() Status {
	hs.t.Helper()
	code, body := hs.get("/status")
	if code != 200 {
		hs.t.Fatalf("/status = %d", code)
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		hs.t.Fatalf("status JSON: %v\n%s", err, body)
	}
	return st
}

// Run panics in the first instance and returns nil in the second: each ends
// in an in-process recycle with its reason, and Run is called again.
func TestRunPanicAndReturnRecycle(t *testing.T) {
	r := &testRole{}
	r.run = func(ctx context.Context, env role.Env) error {
		switch env.Identity().Incarnation {
		case 1:
			panic("boom")
		case 2:
			return nil
		}
		<-ctx.Done()
		return nil
	}
	hs := startHost(t, r, testConfig(t), nil)

	first := hs.rec.waitN(t, "first recycle", 1, recycled).(Recycled)
	if first.Reason != "Run panicked: boom" || !first.Failed {
		t.Fatalf("first recycle = %+v", first.Recycle)
	}
	second := hs.rec.waitN(t, "second recycle", 2, recycled).(Recycled)
	// Returned at once: the reason says what Run should do instead.
	if !strings.HasPrefix(second.Reason, "Run returned nil after") || !strings.Contains(second.Reason, "must block until its context is done") || second.Failed {
		t.Fatalf("second recycle = %+v", second.Recycle)
	}
	hs.rec.waitN(t, "third instance running", 1, state(StateRunning, 3))
	if got := r.count("OnStop"); got != 2 {
		t.Fatalf("OnStop ran %d times for 2 recycles", got)
	}
	st := hs.status()
	if len(st.RecycleHistory) != 2 || !strings.HasPrefix(st.RecycleHistory[0].Reason, "Run panicked") {
		t.Fatalf("status history = %+v", st.RecycleHistory)
	}
	if st.Identity.Incarnation != 3 {
		t.Fatalf("status incarnation = %d; want 3", st.Identity.Incarnation)
	}
}

// A role asks for a recycle: it is recorded as deliberate, not a failure.
func TestRequestRecycle(t *testing.T) {
	r := &testRole{}
	r.run = func(ctx context.Context, env role.Env) error {
		if env.Identity().Incarnation == 1 {
			env.RequestRecycle("rotate credentials")
			env.RequestRecycle("second call keeps the first reason")
		}
		<-ctx.Done()
		return ctx.Err()
	}
	hs := startHost(t, r, testConfig(t), nil)
	rec := hs.rec.waitN(t, "recycle", 1, recycled).(Recycled)
	if rec.Reason != "recycle requested: rotate credentials" || rec.Failed {
		t.Fatalf("recycle = %+v", rec.Recycle)
	}
	hs.rec.waitN(t, "second instance", 1, state(StateRunning, 2))
}

// Deliberate recycles are not failures: a role that recycles itself often,
// or whose settings changes are vetoed, never reaches max_failures, and
// waits no backoff.
func TestDeliberateRecyclesAreNotCrashLoops(t *testing.T) {
	cfg := testConfig(t)
	cfg.Host.MaxFailures = 3
	cfg.Host.BackoffBase, cfg.Host.BackoffMax = time.Hour, time.Hour // a backoff would stall the test
	r := &testRole{}
	r.run = func(ctx context.Context, env role.Env) error {
		if env.Identity().Incarnation <= 5 {
			env.RequestRecycle("rotate credentials")
		}
		<-ctx.Done()
		return ctx.Err()
	}
	hs := startHost(t, r, cfg, nil)
	for n := 1; n <= 5; n++ {
		rec := hs.rec.waitN(t, "recycle", n, recycled).(Recycled)
		if rec.Failed || rec.Delay != 0 {
			t.Fatalf("recycle %d = %+v; want a deliberate recycle with no delay", n, rec.Recycle)
		}
	}
	hs.rec.waitN(t, "sixth instance", 1, state(StateRunning, 6))
	if st := hs.status(); st.ConsecutiveFailures != 0 || st.Frozen != "" {
		t.Fatalf("after 5 requested recycles: consecutive_failures %d, frozen %q", st.ConsecutiveFailures, st.Frozen)
	}
}

// A healthy instance resets the crash-loop streak: no delay before the next.
func TestHealthyInstanceResetsBackoff(t *testing.T) {
	clock := clockwork.NewFakeClock()
	cfg := testConfig(t)
	cfg.Host.HealthyAfter = time.Minute
	cfg.Host.BackoffBase = time.Hour // a delay would block the test
	cfg.Host.BackoffMax = time.Hour
	proceed := make(chan struct{})
	r := &testRole{}
	r.run = func(ctx context.Context, env role.Env) error {
		if env.Identity().Incarnation == 1 {
			select {
			case <-proceed:
				return errors.New("lost connection")
			case <-ctx.Done():
				return nil
			}
		}
		<-ctx.Done()
		return nil
	}
	hs := startHost(t, r, cfg, func(o *Options) { o.Clock = clock })
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	clock.Advance(2 * time.Minute)
	close(proceed)
	rec := hs.rec.waitN(t, "recycle", 1, recycled).(Recycled)
	if rec.Delay != 0 || time.Duration(rec.Uptime) != 2*time.Minute {
		t.Fatalf("recycle after a healthy run = %+v; want no delay and 2m uptime", rec.Recycle)
	}
	hs.rec.waitN(t, "second instance without delay", 1, state(StateRunning, 2))
}

// failure_action exit: the host returns a CrashLoopError after max_failures.
func TestCrashLoopExit(t *testing.T) {
	cfg := testConfig(t)
	cfg.Host.MaxFailures = 2
	cfg.Host.FailureAction = "exit"
	r := &testRole{run: func(context.Context, role.Env) error { return errors.New("bad") }}
	hs := startHost(t, r, cfg, nil)
	err := hs.wait()
	var crash *CrashLoopError
	if !errors.As(err, &crash) || crash.Failures != 2 || ExitCode(err) != ExitCrashLoop {
		t.Fatalf("Run = %v; want a CrashLoopError after 2 failures (exit %d)", err, ExitCrashLoop)
	}
}
