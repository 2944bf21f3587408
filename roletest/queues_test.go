package roletest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
	"github.com/cloudrole/cloudrole/tasks"
)

// A role that connects in its hooks works under roletest as under the host:
// the hook contexts carry the provider of Options.Queues. The test, as a
// producer, reaches the same server through the context Queues returned.
func TestRoleWithQueues(t *testing.T) {
	p, qctx := roletest.Queues(t)
	env := roletest.NewEnv(t, roletest.Options{Queues: p})
	if queue.ProviderFrom(env.Context()) != p {
		t.Fatal("Env.Context does not carry Options.Queues")
	}
	handled := make(chan string, 3)
	worker := &hooks{
		run: func(ctx context.Context, _ role.Env) error {
			c, err := queue.Connect(ctx)
			if err != nil {
				return err
			}
			q, err := c.Queue(ctx, "orders", queue.Config{})
			if err != nil {
				return err
			}
			return q.Work(ctx, func(_ context.Context, j *queue.Job) error {
				handled <- string(j.Payload)
				return nil
			}, queue.WorkerOptions{})
		},
	}
	inst := roletest.Start(env, worker)
	if err := inst.WaitStarted(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	c, err := queue.Connect(qctx)
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue(qctx, "orders", queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := q.Enqueue(qctx, fmt.Appendf(nil, "order %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range 3 {
		seen[recv(t, handled, "a handled order")] = true
	}
	if len(seen) != 3 {
		t.Fatalf("handled %v", seen)
	}
	if res := inst.Stop(nil); res.Run != nil || res.Stuck != "" {
		t.Fatalf("result %+v", res)
	}
}

// Without Options.Queues, queue.Connect fails as it does with a context
// the host did not give.
func TestConnectWithoutQueues(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	if _, err := queue.Connect(env.Context()); !errors.Is(err, queue.ErrNoProvider) {
		t.Fatalf("Connect = %v; want ErrNoProvider", err)
	}
}

// The hook contexts carry the instance logger, so a task group started in
// Run logs to the test with the instance's tags, as under the host.
func TestHookContextCarriesTheLogger(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	res := roletest.Run(testCtx(t), env, &hooks{
		run: func(ctx context.Context, _ role.Env) error {
			g := tasks.NewGroup(ctx, tasks.Options{Name: "worker"})
			if err := g.Go("once", func(context.Context) error { return tasks.Fatal(errors.New("no input")) }); err != nil {
				return err
			}
			return g.Wait()
		},
	})
	var fe *tasks.FatalError
	if !errors.As(res.Run, &fe) || fe.Task != "once" {
		t.Fatalf("Run returned %v; want the group's fatal error", res.Run)
	}
	if !strings.Contains(env.Logs(), "role=roletest instance=roletest_0 incarnation=1 group=worker") {
		t.Fatalf("logs:\n%s", env.Logs())
	}
}
