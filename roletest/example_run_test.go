package roletest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// batch handles its items, out of the load balancer meanwhile, then asks
// the host to stop the process.
type batch struct{ role.Default }

func (batch) Run(ctx context.Context, env role.Env) error {
	n, err := role.Int(env, "Items")
	if err != nil {
		return err
	}
	env.SetBusy(true)
	for i := range n {
		env.Logger().Debug("item done", "item", i)
	}
	env.SetBusy(false)
	env.RequestStop(fmt.Sprintf("%d items done", n))
	<-ctx.Done()
	return nil
}

// Run runs a role until it ends by itself and reports how: here the role
// asked to stop, and without its setting Run failed, which the host would
// answer with a recycle.
func ExampleRun() {
	t := testutil.NewTB() // in a test: its *testing.T
	defer t.Finish()

	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"Items": "3"}})
	res := roletest.Run(context.Background(), env, batch{})
	fmt.Println(res.Run, res.Cause)
	fmt.Println(env.BusyCalls())

	res = roletest.Run(context.Background(), roletest.NewEnv(t, roletest.Options{}), batch{})
	fmt.Println(res.Cause)
	// Output:
	// <nil> roletest: stopped: stop requested by the role: 3 items done
	// [true false]
	// roletest: recycle: Run failed: setting "Items": setting not found
}

// flusher returns from Run as soon as its context ends, and flushes in
// OnStop within the stop deadline.
type flusher struct{ role.Default }

func (flusher) Run(ctx context.Context, _ role.Env) error {
	<-ctx.Done()
	return context.Cause(ctx)
}

func (flusher) OnStop(ctx context.Context, _ role.Env) error {
	deadline, _ := ctx.Deadline()
	fmt.Println("flushing with about", time.Until(deadline).Round(10*time.Second), "left")
	return nil
}

// Stop cancels Run's context with a cause, as the host's stop does, and
// runs OnStop with the stop deadline; a hook still running at the deadline
// would fail the test (Result.Stuck).
func ExampleInstance_Stop() {
	t := testutil.NewTB() // in a test: its *testing.T
	defer t.Finish()

	env := roletest.NewEnv(t, roletest.Options{StopTimeout: 30 * time.Second})
	inst := roletest.Start(env, flusher{})
	if err := inst.WaitStarted(context.Background()); err != nil {
		panic(err)
	}
	res := inst.Stop(errors.New("deploy"))
	fmt.Println(res.Run)
	fmt.Println(errors.Is(res.Run, roletest.ErrStopped), res.OnStop, res.Stuck == "")
	// Output:
	// flushing with about 30s left
	// roletest: stopped: deploy
	// true <nil> true
}
