package jobs

import (
	"context"
	"fmt"
)

type runnerKey struct{}

// WithRunner returns a copy of ctx carrying r; From and Add find it there.
// The host puts the instance's Runner in the context of every hook.
func WithRunner(ctx context.Context, r *Runner) context.Context {
	return context.WithValue(ctx, runnerKey{}, r)
}

// From returns the Runner carried by ctx, or nil.
func From(ctx context.Context) *Runner {
	r, _ := ctx.Value(runnerKey{}).(*Runner)
	return r
}

// Add defines a job on the Runner carried by ctx (the context of OnStart
// or Run): see Runner.Add. Errors wrap ErrNoRunner when ctx carries none.
func Add(ctx context.Context, j Job) error {
	r := From(ctx)
	if r == nil {
		return fmt.Errorf("%w (adding job %q)", ErrNoRunner, j.Name)
	}
	return r.Add(j)
}
