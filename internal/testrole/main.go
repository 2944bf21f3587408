package main

import (
	"context"
	"errors"
	"os"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/role"
)

type testRole struct{}

func (testRole) OnStart(ctx context.Context, env role.Env) error {
	env.Logger().Info("testrole: OnStart")
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
