package role_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// reporter embeds role.Default (OnStop does nothing) and reads its settings
// in OnStart, where a bad one fails the start: the host then runs OnStop,
// backs off and tries again.
type reporter struct {
	role.Default
	every time.Duration
	dry   bool
}

func (r *reporter) OnStart(_ context.Context, env role.Env) error {
	every, err := role.Duration(env, "ReportEvery")
	if err != nil {
		return err
	}
	dry, err := role.Bool(env, "DryRun")
	if err != nil && !errors.Is(err, role.ErrSettingNotFound) { // optional
		return err
	}
	r.every, r.dry = every, dry
	return nil
}

func (r *reporter) Run(ctx context.Context, env role.Env) error {
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // the host stops or recycles the instance
		case <-tick.C:
			env.Logger().Info("report", "dry_run", r.dry)
		}
	}
}

// A role is three hooks on a struct that embeds role.Default; its settings
// come from the Env, and a missing or malformed one is an error that names
// it. Here package roletest stands in for the host.
func Example() {
	t := testutil.NewTB() // in a test: its *testing.T
	defer t.Finish()

	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"ReportEvery": "5m"}})
	r := &reporter{}
	fmt.Println(r.OnStart(env.Context(), env), r.every, r.dry)

	env.Set("DryRun", "maybe")
	fmt.Println(r.OnStart(env.Context(), env))

	env.Unset("ReportEvery")
	err := r.OnStart(env.Context(), env)
	fmt.Println(err, errors.Is(err, role.ErrSettingNotFound))
	// Output:
	// <nil> 5m0s false
	// setting "DryRun": cannot parse "maybe" as bool
	// setting "ReportEvery": setting not found true
}

// StringOr reads an optional setting with a default.
func ExampleStringOr() {
	t := testutil.NewTB() // in a test: its *testing.T
	defer t.Finish()

	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"Greeting": "hi"}})
	fmt.Println(role.StringOr(env, "Greeting", "hello"), role.StringOr(env, "Farewell", "bye"))
	// Output: hi bye
}

// Default is RoleEntryPoint's behaviour: OnStart and OnStop do nothing, and
// Run blocks until its context ends.
func ExampleDefault() {
	t := testutil.NewTB() // in a test: its *testing.T
	defer t.Finish()

	inst := roletest.Start(roletest.NewEnv(t, roletest.Options{}), role.Default{})
	if err := inst.WaitStarted(context.Background()); err != nil {
		panic(err)
	}
	res := inst.Stop(errors.New("deploy")) // Run's context ends
	fmt.Println(res.OnStart, res.Ran, res.Run, res.OnStop)
	fmt.Println(res.Cause)
	// Output:
	// <nil> true <nil> <nil>
	// roletest: stopped: deploy
}
