package lifecycle

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// signals is the signal actor: the first SIGINT/SIGTERM starts a graceful
// stop, another one during the stop forces the exit, SIGHUP reloads the
// config (and lifts an auto-freeze).
func (h *Host) signals(ctx context.Context) error {
	c := h.opts.Signals
	if c == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(ch)
		c = ch
	}
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
