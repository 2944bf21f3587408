package lifecycle

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// subscribeSignals subscribes to SIGINT, SIGTERM and SIGHUP (unless
// Options.Signals replaces them) and returns the channel and how to
// unsubscribe. Run calls it before anything starts: a SIGTERM that arrives
// before the subscription kills the process outright (Go's default), which
// happened to a role signalled right after it logged "running".
func (h *Host) subscribeSignals() (<-chan os.Signal, func()) {
	if h.opts.Signals != nil {
		return h.opts.Signals, func() {}
	}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// signals is the signal actor on c: the first SIGINT/SIGTERM starts a
// graceful stop, another one during the stop forces the exit, SIGHUP
// reloads the config (and lifts an auto-freeze).
func (h *Host) signals(ctx context.Context, c <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig := <-c:
			switch {
			case sig == syscall.SIGHUP:
				h.opts.Logger.Info("SIGHUP: reloading config")
				h.Reload()
			case h.isStopping():
				h.forceExit(ExitForced, fmt.Sprintf("second signal (%v) during the stop", sig))
			default:
				h.Stop(fmt.Errorf("received %v", sig))
			}
		}
	}
}

func (h *Host) isStopping() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopping
}
