package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/tasks"
)

// A task group inside Run: one task returns tasks.Fatal, the group cancels
// its siblings, Run returns the group's error, and the host recycles the
// role with a reason that names the task. The next instance starts afresh,
// and the group's status section is gone from /status with the instance.
func TestTaskFatalRecyclesRoleNamingTask(t *testing.T) {
	siblingStarted := make(chan struct{}, 4)
	siblingStopped := make(chan struct{}, 4)
	r := &testRole{}
	r.run = func(ctx context.Context, env role.Env) error {
		g := tasks.NewGroup(ctx, tasks.Options{Name: "workers"})
		if err := g.Go("steady", func(ctx context.Context) error {
			siblingStarted <- struct{}{}
			<-ctx.Done()
			siblingStopped <- struct{}{}
			return nil
		}); err != nil {
			return err
		}
		if env.Identity().Incarnation == 1 {
			if err := g.Go("billing", func(ctx context.Context) error {
				select { // fail once the sibling is at work
				case <-siblingStarted:
				case <-ctx.Done():
				}
				return tasks.Fatal(errors.New("card processor unreachable"))
			}); err != nil {
				return err
			}
		}
		return g.Wait()
	}
	hs := startHost(t, r, testConfig(t), nil)

	rec := hs.rec.waitN(t, "recycle", 1, recycled).(Recycled)
	if !rec.Failed || !strings.Contains(rec.Reason, `task "billing"`) || !strings.Contains(rec.Reason, "card processor unreachable") {
		t.Fatalf("recycle = %+v; want a failure whose reason names task \"billing\" and its error", rec.Recycle)
	}
	select {
	case <-siblingStopped:
	default:
		t.Fatal("the fatal error recycled the role but the sibling task was not stopped first")
	}
	hs.rec.waitN(t, "second instance running", 1, state(StateRunning, 2))
	st := hs.status()
	if len(st.RecycleHistory) != 1 || !strings.Contains(st.RecycleHistory[0].Reason, `task "billing"`) {
		t.Fatalf("status history = %+v", st.RecycleHistory)
	}
	// The new instance's group shows its one task in /status.
	waitStatus(t, hs, `"steady"`)
}

// waitStatus polls /status until its body contains want.
func waitStatus(t *testing.T, hs *harness, want string) {
	t.Helper()
	var body string
	eventually(t, func() bool {
		_, body = hs.get("/status")
		return strings.Contains(body, want)
	}, func() string { return fmt.Sprintf("/status containing %s; last %s", want, body) })
}
