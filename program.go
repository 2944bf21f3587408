package cloudrole

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kardianos/service"
)

// ErrServiceStop is the cause a service manager's stop request gives the
// host: the same graceful stop as SIGTERM, with the same deadline.
var ErrServiceStop = errors.New("service stop requested")

// program adapts a host run to kardianos's service.Interface: Start runs
// it in the background and returns at once, as service managers require;
// Stop cancels it with ErrServiceStop and waits for it to end.
type program struct {
	run  func(ctx context.Context) int // runs the host; returns the exit code
	wait time.Duration                 // how long Stop waits: deadline + margin

	cancel context.CancelCauseFunc
	done   chan int
	code   int
}

func newProgram(run func(ctx context.Context) int, stopTimeout time.Duration) *program {
	return &program{run: run, wait: stopTimeout + stopMargin}
}

// Start implements service.Interface.
func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancelCause(context.Background())
	p.cancel, p.done = cancel, make(chan int, 1)
	go func() { p.done <- p.run(ctx) }()
	return nil
}

// Stop implements service.Interface: the graceful stop, bounded by the
// host's own deadline plus a margin (the host exits by itself at its
// deadline; the margin only guards against a host that cannot).
func (p *program) Stop(service.Service) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel(ErrServiceStop)
	select {
	case p.code = <-p.done:
		return nil
	case <-time.After(p.wait):
		return fmt.Errorf("role did not stop within %v", p.wait)
	}
}

// exited returns the host's exit code once it ended on its own (not by
// Stop), e.g. a crash loop with failure_action exit.
func (p *program) exited() <-chan int { return p.done }
