package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/role"
)

// effects is the file the activities record into; one write(2) per line
// (O_APPEND), so a SIGKILL leaves whole lines only.
var (
	effects *os.File
	workFor time.Duration
)

func record(line string) error {
	_, err := effects.WriteString(line + "\n")
	return err
}

// Chain runs three steps, each adding its number: Chain(n) = n + 6.
func Chain(ctx workflow.Context, n int) (int, error) {
	id := workflow.WorkflowInstance(ctx).InstanceID
	opts := workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{MaxAttempts: 5, FirstRetryInterval: 100 * time.Millisecond}}
	for i := 1; i <= 3; i++ {
		var err error
		if n, err = workflow.ExecuteActivity[int](ctx, opts, Step, id, i, n).Get(ctx); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Step is one activity execution: it works, then records "<instance>
// <step>".
func Step(ctx context.Context, id string, i, n int) (int, error) {
	if workFor > 0 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(workFor):
		}
	}
	if err := record(fmt.Sprintf("%s %d", id, i)); err != nil {
		return 0, err
	}
	return n + i, nil
}

// Timer waits ten seconds on a durable timer, then records its firing.
func Timer(ctx workflow.Context) (string, error) {
	if _, err := workflow.ScheduleTimer(ctx, 10*time.Second).Get(ctx); err != nil {
		return "", err
	}
	id := workflow.WorkflowInstance(ctx).InstanceID
	return workflow.ExecuteActivity[string](ctx, workflow.DefaultActivityOptions, Fired, id).Get(ctx)
}

// Fired records "fired <instance>".
func Fired(_ context.Context, id string) (string, error) {
	return "fired", record("fired " + id)
}

type durableRole struct {
	role.Default
	hub *durable.Hub
}

func (r *durableRole) OnStart(ctx context.Context, env role.Env) error {
	path, err := env.Setting("Effects")
	if err != nil {
		return err
	}
	if effects, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return err
	}
	workFor = time.Duration(num(env, "WorkMs", 1)) * time.Millisecond
	r.hub, err = durable.Open(ctx, durable.Options{
		Hub:               role.StringOr(env, "Hub", "faults"),
		Replicas:          num(env, "Replicas", 1),
		MaxOrchestrations: num(env, "MaxOrchestrations", 8),
		MaxActivities:     num(env, "MaxActivities", 4),
		OrchestratorLease: time.Duration(num(env, "LeaseMs", 2000)) * time.Millisecond,
		ActivityLease:     time.Duration(num(env, "LeaseMs", 2000)) * time.Millisecond,
		DrainTimeout:      10 * time.Second,
	})
	if err != nil {
		return err
	}
	for _, o := range []any{Chain, Timer} {
		if err := r.hub.RegisterOrchestrator(o); err != nil {
			return err
		}
	}
	for _, a := range []any{Step, Fired} {
		if err := r.hub.RegisterActivity(a); err != nil {
			return err
		}
	}
	return nil
}

func (r *durableRole) Run(ctx context.Context, _ role.Env) error { return r.hub.Work(ctx) }

func (r *durableRole) OnStop(context.Context, role.Env) error {
	if r.hub != nil {
		return r.hub.Close()
	}
	return nil
}

func num(env role.Env, name string, def int) int {
	n, err := strconv.Atoi(role.StringOr(env, name, strconv.Itoa(def)))
	if err != nil {
		panic(fmt.Sprintf("setting %s: %v", name, err))
	}
	return n
}

func main() { cloudrole.Main(&durableRole{}) }
