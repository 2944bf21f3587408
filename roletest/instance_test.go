package roletest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// The host's order: OnStart, Run until the stop, OnStop with a context that
// is not cancelled but carries the stop deadline; Run's context cause
// wraps ErrStopped and the cause given to Stop.
func TestStartStop(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{StopTimeout: 7 * time.Second})
	causes := make(chan error, 1)
	type stopCtx struct {
		deadline time.Time
		ok       bool
		err      error
	}
	stops := make(chan stopCtx, 1)
	var order []string
	r := &hooks{
		onStart: func(context.Context, role.Env) error { order = append(order, "OnStart"); return nil },
		run: func(ctx context.Context, _ role.Env) error {
			order = append(order, "Run")
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil
		},
		onStop: func(ctx context.Context, _ role.Env) error {
			order = append(order, "OnStop")
			d, ok := ctx.Deadline()
			stops <- stopCtx{d, ok, ctx.Err()}
			return nil
		},
	}
	inst := roletest.Start(env, r)
	if err := inst.WaitStarted(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	errDeploy := errors.New("deploy")
	begun := time.Now()
	res := inst.Stop(errDeploy)
	cause := recv(t, causes, "Run's cause")
	if !errors.Is(cause, roletest.ErrStopped) || !errors.Is(cause, errDeploy) || cause != res.Cause {
		t.Fatalf("Run's cause %v (Result.Cause %v); want one wrapping ErrStopped and the given cause", cause, res.Cause)
	}
	sc := recv(t, stops, "OnStop's context")
	if !sc.ok || sc.err != nil || sc.deadline.Before(begun.Add(7*time.Second)) || sc.deadline.After(time.Now().Add(7*time.Second)) {
		t.Fatalf("OnStop's context: deadline %v (%v), err %v; want about 7s after the stop began, not cancelled", sc.deadline, sc.ok, sc.err)
	}
	if strings.Join(order, ",") != "OnStart,Run,OnStop" || !res.Ran || res.OnStart != nil || res.Run != nil || res.OnStop != nil || res.Stuck != "" {
		t.Fatalf("order %v, result %+v", order, res)
	}
	select {
	case <-inst.Done():
	default:
		t.Fatal("Done not closed after Stop returned")
	}
	if again := inst.Stop(nil); again != res {
		t.Fatalf("a second Stop = %+v; want the first result %+v", again, res)
	}
}

// A failed OnStart is not followed by Run, but OnStop still runs, and the
// instance ends by itself with a recycle cause naming the failure.
func TestOnStartFails(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	ran, stopped := false, false
	errNoDB := errors.New("no database")
	res := roletest.Run(testCtx(t), env, &hooks{
		onStart: func(context.Context, role.Env) error { return errNoDB },
		run:     func(context.Context, role.Env) error { ran = true; return nil },
		onStop:  func(context.Context, role.Env) error { stopped = true; return nil },
	})
	if !errors.Is(res.OnStart, errNoDB) || res.Ran || ran || !stopped {
		t.Fatalf("result %+v, Run called %v, OnStop called %v; want OnStart's error, no Run, OnStop", res, ran, stopped)
	}
	if !errors.Is(res.Cause, roletest.ErrRecycled) || !strings.Contains(res.Cause.Error(), "OnStart failed: no database") {
		t.Fatalf("cause %v", res.Cause)
	}
}

// A panic in any hook is recovered into a *PanicError with its stack and
// logged, and the instance goes on as after an error.
func TestHookPanics(t *testing.T) {
	for _, hook := range []string{"OnStart", "Run", "OnStop"} {
		t.Run(hook, func(t *testing.T) {
			boom := func(context.Context, role.Env) error { panic("boom in " + hook) }
			r := &hooks{}
			switch hook {
			case "OnStart":
				r.onStart = boom
			case "Run":
				r.run = boom
			case "OnStop":
				r.onStop = boom
			}
			env := roletest.NewEnv(t, roletest.Options{})
			inst := roletest.Start(env, r)
			if hook == "OnStop" {
				if err := inst.WaitStarted(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				inst.Stop(nil)
			}
			<-inst.Done()
			res := inst.Stop(nil)
			got := map[string]error{"OnStart": res.OnStart, "Run": res.Run, "OnStop": res.OnStop}[hook]
			var pe *roletest.PanicError
			if !errors.As(got, &pe) || pe.Hook != hook || pe.Value != "boom in "+hook || !strings.Contains(string(pe.Stack), "instance_test.go") {
				t.Fatalf("%s's result %v; want a *PanicError with its stack", hook, got)
			}
			if pe.Error() != hook+" panicked: boom in "+hook {
				t.Fatalf("message %q", pe.Error())
			}
			if !strings.Contains(env.Logs(), `msg="hook panicked" role=roletest instance=roletest_0 incarnation=1 hook=`+hook) {
				t.Fatalf("logs:\n%s", env.Logs())
			}
			if res.Stuck != "" || (hook != "OnStop" && !errors.Is(res.Cause, roletest.ErrRecycled)) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

// Run returning by itself ends the instance (the host recycles): the
// contexts the hooks got are cancelled with a cause naming it, so what
// OnStart started stops, then OnStop runs.
func TestRunReturns(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	errLost := errors.New("connection lost")
	background := make(chan error, 1)
	res := roletest.Run(testCtx(t), env, &hooks{
		onStart: func(ctx context.Context, _ role.Env) error {
			go func() { <-ctx.Done(); background <- context.Cause(ctx) }()
			return nil
		},
		run: func(context.Context, role.Env) error { return errLost },
	})
	if !res.Ran || !errors.Is(res.Run, errLost) || !errors.Is(res.Cause, roletest.ErrRecycled) ||
		!strings.Contains(res.Cause.Error(), "Run failed: connection lost") {
		t.Fatalf("result %+v", res)
	}
	if cause := recv(t, background, "OnStart's goroutine to stop"); cause != res.Cause {
		t.Fatalf("OnStart's context cause %v; want %v", cause, res.Cause)
	}
}

// RequestRecycle and RequestStop end the instance as the host's recycle
// and stop do: Run's context is cancelled with a cause naming the reason.
func TestRequestsEndTheInstance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		call   func(role.Env)
		target error
		want   string
	}{
		{"recycle", func(env role.Env) { env.RequestRecycle("cache corrupt") }, roletest.ErrRecycled, "roletest: recycle: recycle requested: cache corrupt"},
		{"stop", func(env role.Env) { env.RequestStop("batch done") }, roletest.ErrStopped, "roletest: stopped: stop requested by the role: batch done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := roletest.NewEnv(t, roletest.Options{})
			res := roletest.Run(testCtx(t), env, &hooks{
				run: func(ctx context.Context, env role.Env) error {
					go tc.call(env) // from a task, say
					<-ctx.Done()
					return context.Cause(ctx)
				},
			})
			if !errors.Is(res.Cause, tc.target) || res.Cause.Error() != tc.want || res.Run != res.Cause {
				t.Fatalf("result %+v; want cause %q seen by Run", res, tc.want)
			}
		})
	}
}

// The context given to Run stops the instance with its cause.
func TestRunContextStops(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	ctx, cancel := context.WithCancelCause(testCtx(t))
	errDone := errors.New("test scenario over")
	r := &hooks{onStart: func(context.Context, role.Env) error { cancel(errDone); return nil }}
	res := roletest.Run(ctx, env, r)
	if !errors.Is(res.Cause, roletest.ErrStopped) || !errors.Is(res.Cause, errDone) {
		t.Fatalf("cause %v", res.Cause)
	}
}

// A stop that begins while OnStart runs cancels OnStart's context; Run is
// then not called even though OnStart returned nil, and OnStop runs.
func TestStopDuringOnStart(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	entered := make(chan struct{})
	ran := false
	inst := roletest.Start(env, &hooks{
		onStart: func(ctx context.Context, _ role.Env) error { close(entered); <-ctx.Done(); return nil },
		run:     func(context.Context, role.Env) error { ran = true; return nil },
	})
	recv(t, entered, "OnStart")
	res := inst.Stop(nil)
	if res.Ran || ran || res.OnStart != nil || !errors.Is(res.Cause, roletest.ErrStopped) {
		t.Fatalf("result %+v, Run called %v", res, ran)
	}
}

// A Run that ignores its context past the stop deadline fails the test,
// names the hook and logs the stacks; OnStop has not run, as the host
// would have forced the exit.
func TestStuckRunFailsTheTest(t *testing.T) {
	ft := &failures{TB: t}
	env := roletest.NewEnv(ft, roletest.Options{StopTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	stopped := false
	inst := roletest.Start(env, &hooks{
		run:    func(context.Context, role.Env) error { <-release; return nil },
		onStop: func(context.Context, role.Env) error { stopped = true; return nil },
	})
	if err := inst.WaitStarted(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	res := inst.Stop(nil)
	if res.Stuck != "Run" || stopped {
		t.Fatalf("result %+v, OnStop called %v; want stuck in Run", res, stopped)
	}
	msgs := ft.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "stop deadline of 50ms exceeded; stuck in Run") {
		t.Fatalf("test failures %q", msgs)
	}
	if !strings.Contains(env.Logs(), "stacks=") || inst.Stop(nil).Stuck != "Run" || len(ft.messages()) != 1 {
		t.Fatalf("want the stacks logged and the failure reported once; logs:\n%s", env.Logs())
	}
}

// An Env is for one instance: a second Start fails the test.
func TestSecondStartFails(t *testing.T) {
	ft := &failures{TB: t}
	env := roletest.NewEnv(ft, roletest.Options{})
	roletest.Start(env, &hooks{})
	done := make(chan struct{})
	go func() { defer close(done); roletest.Start(env, &hooks{}) }()
	<-done
	if msgs := ft.messages(); len(msgs) != 1 || !strings.Contains(msgs[0], "already ran an instance") {
		t.Fatalf("test failures %q", msgs)
	}
}
