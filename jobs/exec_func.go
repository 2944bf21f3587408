package jobs

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// PanicError is the error of a Go job that panicked; its stack is stored
// in the run's stderr output.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// runFunc runs a Go job's function. When ctx is cancelled the function
// gets the grace to return; one that does not is abandoned.
func (x *execution) runFunc(ctx context.Context) error {
	x.mu.Lock()
	rec := x.rec.Run
	x.mu.Unlock()
	stdout, stderr := x.out.writer(Stdout), x.out.writer(Stderr)
	defer stdout.close()
	defer stderr.close()
	inv := &Invocation{
		RunID: rec.ID, Job: rec.Job, Instance: rec.Instance,
		Args: rec.Trigger.Args, Trigger: rec.Trigger,
		Stdout: stdout, Stderr: stderr, Logger: x.log,
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				stack := debug.Stack()
				fmt.Fprintf(stderr, "panic: %v\n%s", v, stack)
				done <- &PanicError{Value: v, Stack: stack}
			}
		}()
		done <- x.job.Func(ctx, inv)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(x.grace())
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		x.r.mu.Lock()
		x.r.counts.abandoned++
		x.r.mu.Unlock()
		x.log.Error("jobs: a Go job ignored its cancelled context; its goroutine is abandoned", "waited", x.grace().String())
		return errAbandoned
	}
}
