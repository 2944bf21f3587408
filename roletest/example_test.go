package roletest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// greeter takes a changed Greeting live, and vetoes a changed Language,
// which it reads only at start: the host then recycles it.
type greeter struct {
	role.Default
	mu       sync.Mutex
	greeting string
}

func (g *greeter) OnStart(_ context.Context, env role.Env) error {
	g.setGreeting(env)
	env.OnChanging(func(_ context.Context, changed []string) error {
		if slices.Contains(changed, "Language") {
			return errors.New("Language is read at start")
		}
		return nil
	})
	env.OnChanged(func(context.Context, []string) { g.setGreeting(env) })
	return nil
}

func (g *greeter) setGreeting(env role.Env) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.greeting = role.StringOr(env, "Greeting", "hello")
}

func (g *greeter) Greet(name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.greeting + ", " + name
}

// A test starts the role on a fake Env, changes its settings live and sees
// the change taken, or vetoed and the instance recycled, as under the host.
func Example() {
	t := testutil.NewTB() // in a test: its *testing.T
	defer t.Finish()
	ctx := context.Background()

	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"Greeting": "hi"}})
	g := &greeter{}
	inst := roletest.Start(env, g)
	if err := inst.WaitStarted(ctx); err != nil {
		panic(err)
	}
	fmt.Println(g.Greet("Ada"))

	fmt.Println(env.Change(ctx, map[string]string{"Greeting": "hello"}))
	fmt.Println(g.Greet("Ada"))

	fmt.Println(env.Change(ctx, map[string]string{"Language": "fr"}))
	<-inst.Done() // the veto ended the instance
	res := inst.Stop(nil)
	fmt.Println(errors.Is(res.Cause, roletest.ErrRecycled), res.Run, res.OnStop)
	// Output:
	// hi, Ada
	// <nil>
	// hello, Ada
	// settings change vetoed (Language): Language is read at start
	// true <nil> <nil>
}
