package roletest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// Change calls the Changing handlers with the names whose value changed,
// applies the values, then calls the Changed handlers, which read them.
func TestChangeApplies(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"A": "1", "B": "2"}})
	var mu sync.Mutex
	var calls []string
	env.OnChanging(func(_ context.Context, changed []string) error {
		mu.Lock()
		defer mu.Unlock()
		v, _ := env.Setting("A")
		calls = append(calls, "changing "+strings.Join(changed, ",")+" A="+v)
		return nil
	})
	env.OnChanged(func(_ context.Context, changed []string) {
		mu.Lock()
		defer mu.Unlock()
		v, _ := env.Setting("A")
		calls = append(calls, "changed "+strings.Join(changed, ",")+" A="+v)
	})
	// B keeps its value, so only A and the new C changed.
	if err := env.Change(testCtx(t), map[string]string{"C": "3", "A": "10", "B": "2"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"changing A,C A=1", "changed A,C A=10"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %q; want %q", calls, want)
	}
	if err := env.Change(testCtx(t), map[string]string{"A": "10"}); err != nil || len(calls) != 2 {
		t.Fatalf("a change to the same value: %v, calls %q; want nothing", err, calls)
	}
	if !strings.Contains(env.Logs(), `msg="settings changed"`) {
		t.Fatalf("logs:\n%s", env.Logs())
	}
}

// A Changing handler that returns an error, panics or overruns the
// handler timeout vetoes: Change returns the veto, the values stay, and no
// Changed handler runs.
func TestChangeVetoes(t *testing.T) {
	errBusy := errors.New("mid-batch")
	for _, tc := range []struct {
		name    string
		handler func(ctx context.Context, changed []string) error
		want    string
	}{
		{"error", func(context.Context, []string) error { return errBusy }, "mid-batch"},
		{"panic", func(context.Context, []string) error { panic("boom") }, "Changing handler panicked: boom"},
		{"timeout", func(ctx context.Context, _ []string) error { <-ctx.Done(); return nil }, "Changing handler did not return within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := roletest.NewEnv(t, roletest.Options{
				Settings:       map[string]string{"Greeting": "hi"},
				HandlerTimeout: 50 * time.Millisecond,
			})
			env.OnChanging(tc.handler)
			changed := false
			env.OnChanged(func(context.Context, []string) { changed = true })
			err := env.Change(testCtx(t), map[string]string{"Greeting": "hello"})
			if err == nil || !strings.Contains(err.Error(), "settings change vetoed (Greeting): "+tc.want) {
				t.Fatalf("Change = %v; want a veto naming %q", err, tc.want)
			}
			if tc.name == "error" && !errors.Is(err, errBusy) {
				t.Fatalf("veto %v does not wrap the handler's error", err)
			}
			if v, _ := env.Setting("Greeting"); v != "hi" || changed {
				t.Fatalf("after a veto Greeting = %q, Changed called %v; want the old value, no call", v, changed)
			}
		})
	}
}

// A Changed handler that panics is logged; the change stands.
func TestChangedHandlerPanics(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	env.OnChanged(func(context.Context, []string) { panic("oops") })
	if err := env.Change(testCtx(t), map[string]string{"X": "1"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := env.Setting("X"); v != "1" || !strings.Contains(env.Logs(), "Changed handler panicked: oops") {
		t.Fatalf("X = %q; logs:\n%s", v, env.Logs())
	}
}

// Under a running instance a veto recycles it, as the host does to apply
// the change in a new instance: Run's cause names the veto.
func TestChangeVetoRecyclesInstance(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"Shards": "4"}})
	inst := roletest.Start(env, &hooks{
		onStart: func(_ context.Context, env role.Env) error {
			env.OnChanging(func(context.Context, []string) error { return errors.New("shards are fixed while running") })
			return nil
		},
	})
	if err := inst.WaitStarted(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := env.Change(testCtx(t), map[string]string{"Shards": "8"}); err == nil {
		t.Fatal("no veto")
	}
	<-inst.Done()
	res := inst.Stop(nil)
	if !errors.Is(res.Cause, roletest.ErrRecycled) || res.Cause.Error() != "roletest: recycle: settings change vetoed (Shards): shards are fixed while running" {
		t.Fatalf("cause %v", res.Cause)
	}
	if v, _ := env.Setting("Shards"); v != "4" {
		t.Fatalf("Shards = %q after the veto; want 4 (the next instance sees 8)", v)
	}
}

// While OnStart runs, and once the stop began, Change applies the values
// without asking any handler, as the host does.
func TestChangeOutsideRunning(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"Greeting": "hi"}})
	registered, release := make(chan struct{}), make(chan struct{})
	calls := 0
	inst := roletest.Start(env, &hooks{
		onStart: func(_ context.Context, env role.Env) error {
			env.OnChanging(func(context.Context, []string) error { calls++; return errors.New("veto") })
			env.OnChanged(func(context.Context, []string) { calls++ })
			close(registered)
			<-release
			return nil
		},
	})
	recv(t, registered, "OnStart to register its handlers")
	if err := env.Change(testCtx(t), map[string]string{"Greeting": "hello"}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := inst.WaitStarted(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	inst.Stop(nil)
	if err := env.Change(testCtx(t), map[string]string{"Greeting": "bye"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := env.Setting("Greeting"); v != "bye" || calls != 0 {
		t.Fatalf("Greeting = %q, %d handler calls; want bye and none", v, calls)
	}
}
