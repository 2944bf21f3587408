package lifecycle

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// armDeadline starts the stop deadline unless one is already running; an
// earlier deadline is never pushed back.
func (h *Host) armDeadline() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deadline != nil {
		return
	}
	d := h.cfg.Host.StopTimeout
	h.deadlineFor = d
	h.deadlineAt = time.Now().Add(d)
	h.deadline = time.AfterFunc(d, h.deadlineExceeded)
}

// disarmDeadline stops the deadline after an in-process recycle finished its
// stop. A host stop's deadline stays armed until Run returns (final).
func (h *Host) disarmDeadline(final bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deadline == nil || (h.stopping && !final) {
		return
	}
	h.deadline.Stop()
	h.deadline = nil
}

// deadlineTime is when the running stop deadline fires.
func (h *Host) deadlineTime() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deadline == nil {
		return time.Now().Add(h.cfg.Host.StopTimeout)
	}
	return h.deadlineAt
}

func (h *Host) deadlineExceeded() { h.deadlinePassed(h.stuckIn()) }

// deadlinePassed forces the exit for a stop that passed its deadline,
// stuck in what.
func (h *Host) deadlinePassed(what string) {
	h.mu.Lock()
	d := h.deadlineFor
	h.mu.Unlock()
	h.forceExit(ExitStopTimeout, fmt.Sprintf("stop deadline of %s exceeded; stuck in %s", d, what))
}

// stuckIn names what the instance loop is waiting for.
func (h *Host) stuckIn() string {
	h.mu.Lock()
	hook, i := h.hook, h.inst
	h.mu.Unlock()
	switch {
	case hook == phaseStartupStop && i != nil && i.startup.Load() != nil:
		if w := i.startup.Load().Running(); len(w) > 0 {
			return hook + ": " + strings.Join(w, ", ") + " still running"
		}
	case hook == "":
		return "the host (no hook running)"
	}
	return hook
}

// forceExit ends the process now: it logs why, dumps every goroutine's
// stack, kills the startup tasks' process groups (process exit would orphan
// them) and calls Options.Exit. If Exit returns, Run returns the error.
func (h *Host) forceExit(code int, reason string) {
	h.forceOnce.Do(func() {
		if h.opts.LogStacks {
			h.opts.Logger.Error("forced exit", "code", code, "reason", reason, "stacks", string(allStacks()))
		} else {
			h.opts.Logger.Error("forced exit", "code", code, "reason", reason)
			fmt.Fprintf(h.opts.Stacks, "cloudrole: forced exit (code %d): %s\n\ngoroutine stacks:\n%s\n", code, reason, allStacks())
		}
		h.mu.Lock()
		i := h.inst
		h.mu.Unlock()
		if i != nil {
			if sr := i.startup.Load(); sr != nil {
				sr.Kill()
			}
		}
		h.forcedErr = &ForcedExitError{Code: code, Reason: reason}
		h.opts.Exit(code)
		close(h.forced)
	})
}

// allStacks returns every goroutine's stack.
func allStacks() []byte {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}
