package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/role"
)

type testRole struct{}

func (testRole) OnStart(ctx context.Context, env role.Env) error {
	env.Logger().Info("testrole: OnStart")
	if add, _ := role.Bool(env, "GoJob"); add {
		// A Go job beside the config's programs: it prints its arguments
		// and the instance, then waits for its context if told to.
		if err := jobs.Add(ctx, jobs.Job{Name: "gojob", Func: func(ctx context.Context, inv *jobs.Invocation) error {
			inv.Printf("gojob %s on %s", strings.Join(inv.Args, " "), inv.Instance)
			if len(inv.Args) > 0 && inv.Args[0] == "block" {
				<-ctx.Done()
			}
			if len(inv.Args) > 0 && inv.Args[0] == "fail" {
				return errors.New("asked to fail")
			}
			return nil
		}}); err != nil {
			return err
		}
	}
	if p := role.StringOr(env, "Marker", ""); p != "" {
		if err := os.WriteFile(p, []byte("started\n"), 0o644); err != nil {
			return err
		}
	}
	if fail, _ := role.Bool(env, "OnStartFail"); fail {
		return errors.New("OnStartFail is set")
	}
	return nil
}

func (testRole) Run(ctx context.Context, env role.Env) error {
	env.Logger().Info("testrole: Run")
	if busy, _ := role.Bool(env, "RunBusy"); busy {
		env.SetBusy(true)
	}
	<-ctx.Done()
	return nil
}

func (testRole) OnStop(ctx context.Context, env role.Env) error {
	env.Logger().Info("testrole: OnStop")
	if block, _ := role.Bool(env, "OnStopBlock"); block {
		select {}
	}
	return nil
}

func main() { cloudrole.Main(testRole{}) }
