//go:build windows

package cloudrole

import (
	"time"

	"golang.org/x/sys/windows/svc"
)

// We answer the Windows service control manager with x/sys/windows/svc
// ourselves for `run`, and keep kardianos/service for install and control:
// kardianos reports StopPending once with a zero wait hint and never
// updates it, so the SCM may declare a role hung while OnStop is still
// within its deadline. Here the checkpoint advances every 2 s until the
// host has stopped.

// runAsService reports whether the process was started by the SCM.
func runAsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// runService runs p under the SCM until it stops; it returns the exit code.
func runService(name string, p *program) int {
	h := &winHandler{p: p}
	if err := svc.Run(name, h); err != nil {
		return 1
	}
	return h.code
}

type winHandler struct {
	p    *program
	code int
}

// Execute implements svc.Handler.
func (w *winHandler) Execute(_ []string, reqs <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	changes <- svc.Status{State: svc.StartPending}
	_ = w.p.Start(nil)
	changes <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case w.code = <-w.p.exited():
			// The host ended on its own (crash loop with exit): report it
			// as a service-specific error so recovery actions apply.
			return w.code != 0, uint32(w.code)
		case c := <-reqs:
			switch c.Cmd {
			case svc.Interrogate:
				changes <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				w.stop(changes)
				return w.code != 0, uint32(w.code)
			}
		}
	}
}

// stop runs the graceful stop and reports progress while it runs.
func (w *winHandler) stop(changes chan<- svc.Status) {
	stopped := make(chan struct{})
	go func() { _ = w.p.Stop(nil); close(stopped) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for cp := uint32(1); ; cp++ {
		changes <- svc.Status{State: svc.StopPending, CheckPoint: cp, WaitHint: 5000}
		select {
		case <-stopped:
			w.code = w.p.code
			return
		case <-tick.C:
		}
	}
}
