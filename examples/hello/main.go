package main

import (
	"context"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/role"
)

type hello struct {
	role.Default // RoleEntryPoint's defaults for anything not overridden
}

func (hello) OnStart(ctx context.Context, env role.Env) error {
	greeting := role.StringOr(env, "Greeting", "hello")
	env.Logger().Info("OnStart: initialising", "greeting", greeting, "identity", env.Identity())
	env.OnChanged(func(_ context.Context, changed []string) {
		env.Logger().Info("settings changed live", "changed", changed, "greeting", role.StringOr(env, "Greeting", "hello"))
	})
	return nil
}

func (hello) Run(ctx context.Context, env role.Env) error {
	every, err := role.Duration(env, "WorkEvery")
	if err != nil {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			env.Logger().Info("Run: context done", "cause", context.Cause(ctx).Error())
			return nil
		case <-tick.C:
		}
		// Every fifth tick, leave the load balancer for one tick.
		busy := n%5 == 0
		env.SetBusy(busy)
		env.Logger().Info("Run: working", "n", n, "busy", busy, "greeting", role.StringOr(env, "Greeting", "hello"))
	}
}

func (hello) OnStop(ctx context.Context, env role.Env) error {
	deadline, _ := ctx.Deadline()
	env.Logger().Info("OnStop: cleaning up", "deadline_in", time.Until(deadline).Round(time.Second).String())
	return nil
}

func main() {
	cloudrole.MainWith(hello{}, cloudrole.Options{DefaultConfig: "examples/hello/hello.yaml"})
}
