package cloudrole

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/cloudrole/cloudrole/internal/sdnotify"
	"github.com/cloudrole/cloudrole/lifecycle"
)

// systemdEvents turns host events into sd_notify messages: READY=1 each
// time an instance is running (OnStart returned), STOPPING=1 when the host
// begins its stop, and the state as STATUS= for `systemctl status`.
func systemdEvents(n *sdnotify.Notifier, log *slog.Logger) func(lifecycle.Event) {
	send := func(msg string) {
		if err := n.Send(msg); err != nil {
			log.Warn("systemd notification failed", "message", msg, "error", err.Error())
		}
	}
	return func(ev lifecycle.Event) {
		switch ev := ev.(type) {
		case lifecycle.StateChanged:
			if ev.State == lifecycle.StateRunning {
				send("READY=1\nSTATUS=running")
			} else if ev.State != lifecycle.StateStopped {
				send("STATUS=" + string(ev.State))
			}
		case lifecycle.HostStopping:
			send("STOPPING=1\nSTATUS=stopping: " + ev.Cause.Error())
		}
	}
}

// chainEvents calls every non-nil handler in order.
func chainEvents(hs ...func(lifecycle.Event)) func(lifecycle.Event) {
	return func(ev lifecycle.Event) {
		for _, h := range hs {
			if h != nil {
				h(ev)
			}
		}
	}
}

// watchdog sends WATCHDOG=1 every interval while the host's control loop
// answers, until ctx ends. A wedged host stops the pings and systemd
// restarts it.
func watchdog(ctx context.Context, n *sdnotify.Notifier, h *lifecycle.Host, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, every)
		err := h.Live(lctx)
		cancel()
		if err != nil {
			log.Warn("host not live; withholding the watchdog ping", "error", err.Error())
			continue
		}
		if err := n.Send("WATCHDOG=1"); err != nil {
			log.Warn("systemd watchdog ping failed", "error", err.Error())
		}
	}
}

func watchdogInterval(environ []string) time.Duration {
	return sdnotify.WatchdogInterval(environ, os.Getpid())
}
