package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/cloudrole/cloudrole/config"
)

// Recycle is one entry of the recycle history shown in /status.
type Recycle struct {
	At          time.Time `json:"at"`
	Incarnation int       `json:"incarnation"`
	Reason      string    `json:"reason"`
	// Failed is true when the instance failed (startup task, OnStart, Run
	// error or panic) rather than being recycled on purpose.
	Failed bool `json:"failed"`
	// Uptime is how long the instance was ready.
	Uptime Duration `json:"uptime"`
	// Delay is the crash-loop backoff before the next start.
	Delay Duration `json:"delay"`
}

// historyLen bounds the recycle history; older entries are dropped.
const historyLen = 50

// outcome is how an instance ended.
type outcome struct {
	reason     string
	failed     bool
	deliberate bool // RequestRecycle or a vetoed settings change
	uptime     time.Duration
	hostStop   bool // the host is stopping: no recycle
}

// loop is the instance loop actor: it starts instances one after another
// until the host stops.
func (h *Host) loop(ctx context.Context) error {
	for inc := 1; ; inc++ {
		if !h.waitUnfrozen(ctx, false) {
			return nil
		}
		out := h.runInstance(ctx, inc)
		if out.hostStop || ctx.Err() != nil {
			return nil
		}
		delay, err := h.afterInstance(inc, out)
		if err != nil {
			return err
		}
		if !h.waitBackoff(ctx, delay) {
			return nil
		}
	}
}

// afterInstance records a recycle and decides the delay before the next
// start, or the crash-loop action.
func (h *Host) afterInstance(inc int, out outcome) (time.Duration, error) {
	h.mu.Lock()
	rec, delay, err := h.recordLocked(inc, out)
	h.mu.Unlock()
	h.emit(Recycled{rec})
	return delay, err
}

func (h *Host) recordLocked(inc int, out outcome) (Recycle, time.Duration, error) {
	cfg := h.cfg.Host
	h.recycles++
	switch {
	case out.deliberate:
		// Asked for (RequestRecycle, a vetoed settings change): not a
		// failure, so it neither counts toward the crash loop nor waits a
		// backoff, and it does not end a streak either.
	case out.uptime >= cfg.HealthyAfter:
		// Kudu's rule: an instance that stayed up long enough was
		// healthy, so what ended it starts a new streak with no delay.
		h.resetStreakLocked()
	default:
		// Failed, or short-lived: Run returned (nil included) before
		// HealthyAfter.
		h.streak++
	}
	var delay time.Duration
	var err error
	switch {
	case out.deliberate:
	case h.streak >= cfg.MaxFailures && cfg.FailureAction == "exit":
		err = &CrashLoopError{Failures: h.streak, Last: out.reason}
	case h.streak >= cfg.MaxFailures:
		h.autoFrozen = fmt.Sprintf("crash loop: %d consecutive failed instances (last: %s); change the config or send SIGHUP to resume", h.streak, out.reason)
	case h.streak > 0 && !out.deliberate:
		if h.backoff == nil {
			h.backoff = newBackoff(cfg)
		}
		delay, _ = h.backoff.Next()
	}
	rec := Recycle{
		At: h.opts.Clock.Now(), Incarnation: inc, Reason: out.reason, Failed: out.failed,
		Uptime: Duration(out.uptime), Delay: Duration(delay),
	}
	h.history = append(h.history, rec)
	if len(h.history) > historyLen {
		h.history = append(h.history[:0], h.history[len(h.history)-historyLen:]...)
	}
	level := h.opts.Logger.Info
	if out.failed {
		level = h.opts.Logger.Error
	}
	level("instance recycled", "incarnation", inc, "reason", out.reason,
		"uptime", out.uptime.String(), "consecutive_failures", h.streak, "delay", delay.String())
	if h.autoFrozen != "" {
		h.opts.Logger.Error("host frozen itself", "reason", h.autoFrozen)
	}
	return rec, delay, err
}

// resetStreakLocked ends a failure streak. A go-retry backoff keeps its
// attempt count and cannot be reset, so the next streak gets a new one.
func (h *Host) resetStreakLocked() {
	h.streak = 0
	h.backoff = nil
}

// newBackoff returns the crash-loop backoff: exponential from BackoffBase,
// capped at BackoffMax, with BackoffJitter percent of jitter.
func newBackoff(cfg config.Host) retry.Backoff {
	if cfg.BackoffBase <= 0 {
		return retry.BackoffFunc(func() (time.Duration, bool) { return 0, false })
	}
	b := retry.NewExponential(cfg.BackoffBase)
	b = retry.WithCappedDuration(max(cfg.BackoffMax, cfg.BackoffBase), b)
	if cfg.BackoffJitter > 0 {
		b = retry.WithJitterPercent(uint64(cfg.BackoffJitter), b)
	}
	return b
}

// waitBackoff idles in state recycling for d. It returns false if the host
// stopped meanwhile.
func (h *Host) waitBackoff(ctx context.Context, d time.Duration) bool {
	h.mu.Lock()
	if d > 0 {
		h.nextStart = h.opts.Clock.Now().Add(d)
	}
	ev := h.setStateLocked(StateRecycling)
	h.mu.Unlock()
	h.emit(ev)
	if d <= 0 {
		return ctx.Err() == nil
	}
	defer func() {
		h.mu.Lock()
		h.nextStart = time.Time{}
		h.mu.Unlock()
	}()
	t := h.opts.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}

// waitUnfrozen idles in state frozen while the host is frozen: by its own
// crash-loop freeze, or (withSetting) by the Freeze setting. It returns
// false if ctx ended first.
func (h *Host) waitUnfrozen(ctx context.Context, withSetting bool) bool {
	for {
		h.mu.Lock()
		why := h.frozenReasonLocked(withSetting)
		changed := h.changed
		if why == "" {
			h.mu.Unlock()
			return ctx.Err() == nil
		}
		if h.state != StateFrozen {
			h.opts.Logger.Warn("frozen", "reason", why)
		}
		ev := h.setStateLocked(StateFrozen)
		h.mu.Unlock()
		h.emit(ev)
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// frozenReasonLocked says why the host is frozen, or "" if it is not.
func (h *Host) frozenReasonLocked(withSetting bool) string {
	if h.opFrozen != "" {
		return h.opFrozen
	}
	if h.autoFrozen != "" {
		return h.autoFrozen
	}
	if withSetting && h.cfg.Freeze() {
		return "the Freeze setting is true"
	}
	return ""
}
