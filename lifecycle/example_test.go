package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/role"
)

// hello reports its hooks; Run is role.Default's (block until the stop).
type hello struct{ role.Default }

func (hello) OnStart(context.Context, role.Env) error {
	fmt.Println("  OnStart")
	return nil
}

func (hello) OnStop(context.Context, role.Env) error {
	fmt.Println("  OnStop")
	return nil
}

// A host runs a role through its states until the context given to Run
// ends; Options.Events reports each state as it is entered (the first,
// starting, is the host's state from New). This one has no health endpoint
// (health.addr off) and is stopped as soon as the role runs; Run returns
// nil after a clean stop.
func Example() {
	dir, err := os.MkdirTemp("", "lifecycle-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	yaml := fmt.Sprintf("role: {name: hello, data_dir: %q}\nhealth: {addr: \"off\"}\n", dir)
	cfg, err := config.Parse("hello.yaml", []byte(yaml), config.Options{})
	if err != nil {
		panic(err)
	}

	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	h, err := lifecycle.New(hello{}, cfg, lifecycle.Options{
		Events: func(ev lifecycle.Event) {
			switch ev := ev.(type) {
			case lifecycle.StateChanged:
				fmt.Println(ev.State)
				if ev.State == lifecycle.StateRunning {
					stop(errors.New("deploy")) // as SIGTERM would
				}
			case lifecycle.HostStopping:
				fmt.Println("stop cause:", ev.Cause)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("Run returned", h.Run(ctx))
	// Output:
	// onstart
	//   OnStart
	// ready
	// running
	// stop cause: host stopping: deploy
	// stopping
	//   OnStop
	// stopped
	// Run returned <nil>
}
