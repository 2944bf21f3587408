package lifecycle

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/cloudrole/cloudrole/config"
)

// maxConfigSize caps what a live reload reads, so a runaway file cannot
// exhaust memory; it is the parser's own limit, so a reload refuses exactly
// what a start would.
const maxConfigSize = config.MaxFileSize

// control is the control-loop actor: it answers liveness pings and reloads
// the config file when it changes (polled every host.reload_interval, or at
// once on SIGHUP / Reload). It never runs role code itself, so it stays
// responsive; handler calls are bounded by host.handler_timeout.
func (h *Host) control(ctx context.Context) error {
	var (
		ticker   clockwork.Ticker
		tick     <-chan time.Time
		interval time.Duration
	)
	retune := func() {
		cfg := h.config()
		want := cfg.Host.ReloadInterval
		if cfg.File == "" {
			want = 0
		}
		if want == interval {
			return
		}
		if ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
		if interval = want; want > 0 {
			ticker = h.opts.Clock.NewTicker(want)
			tick = ticker.Chan()
		}
	}
	retune()
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case reply := <-h.pings:
			close(reply)
		case <-tick:
			h.reload(false)
			retune()
		case <-h.reloadNow:
			h.reload(true)
			retune()
		}
	}
}

// Live reports whether the control loop answers; the health endpoint's
// liveness.
func (h *Host) Live(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case h.pings <- reply:
	case <-h.forced:
		return errors.New("forced exit in progress")
	case <-ctx.Done():
		return errors.New("host control loop does not answer")
	}
	<-reply
	return nil
}

// reload reads the config file and applies it if it changed. force also
// lifts an auto-freeze when the file did not change.
func (h *Host) reload(force bool) {
	cfg := h.config()
	if cfg.File == "" {
		if force {
			h.liftAutoFreeze("reload requested")
		}
		return
	}
	data, err := readCapped(cfg.File)
	if err != nil {
		h.rejectConfig(err)
		return
	}
	sum := sha256.Sum256(data)
	h.mu.Lock()
	same, known := sum == h.configSum, sum == h.badSum
	h.mu.Unlock()
	if same {
		// The file says what the running config says again (after it was
		// missing, unreadable or broken): nothing to reject any more.
		h.clearConfigErr()
		if force {
			h.liftAutoFreeze("reload requested")
		}
		return
	}
	if known {
		return // a broken content already reported
	}
	next, err := h.opts.Parse(cfg.File, data)
	if err != nil {
		// Remember the content so a broken file is reported once, not
		// on every poll.
		h.mu.Lock()
		h.badSum = sum
		h.mu.Unlock()
		h.rejectConfig(err)
		return
	}
	h.apply(next, sum)
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfigSize)
	}
	return data, nil
}

// rejectConfig keeps the current config and shows why the new one was not
// taken.
func (h *Host) rejectConfig(err error) {
	h.mu.Lock()
	repeat := h.configErr == err.Error()
	h.configErr = err.Error()
	h.mu.Unlock()
	if repeat {
		return // logged once per distinct error, not on every poll
	}
	h.opts.Logger.Error("config reload rejected; keeping the current config", "error", err.Error())
	h.emit(ConfigRejected{Err: err})
}

// clearConfigErr drops the reason the last reload was rejected, once the
// file reads as the running config again.
func (h *Host) clearConfigErr() {
	h.mu.Lock()
	was := h.configErr
	h.configErr, h.badSum = "", [32]byte{}
	h.mu.Unlock()
	if was != "" {
		h.opts.Logger.Info("config file matches the running config again", "was", was)
	}
}

func (h *Host) liftAutoFreeze(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.autoFrozen == "" {
		return
	}
	h.opts.Logger.Info("resuming after the crash-loop freeze", "why", why)
	h.autoFrozen = ""
	h.resetStreakLocked()
	h.broadcastLocked()
}

// broadcastLocked wakes everything waiting for a config change.
func (h *Host) broadcastLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// apply takes a new valid config: live keys at once, changed settings
// through the instance's Changing/Changed handlers.
func (h *Host) apply(next *config.Config, sum [32]byte) {
	h.mu.Lock()
	prev := h.cfg
	h.cfg, h.configSum, h.configErr, h.badSum = next, sum, "", [32]byte{}
	if h.autoFrozen != "" {
		h.opts.Logger.Info("config changed: resuming after the crash-loop freeze")
		h.autoFrozen = ""
		h.resetStreakLocked()
	}
	h.broadcastLocked()
	i, state := h.inst, h.state
	h.mu.Unlock()

	h.opts.Logger.Info("config reloaded", "file", next.File)
	if keys := config.RestartNeeded(prev, next); len(keys) > 0 {
		h.opts.Logger.Warn("config changes that take effect only after a process restart", "keys", keys)
	}
	changed := config.ChangedSettings(prev, next)
	h.emit(ConfigReloaded{Changed: changed})
	if len(changed) == 0 || i == nil || i.finished.Load() {
		return
	}
	if !state.ready() {
		// The instance has not finished starting: it reads settings as
		// it goes, and has no handlers to ask yet.
		i.setSettings(next.Settings)
		return
	}
	timeout := next.Host.HandlerTimeout
	if err := i.changing(timeout, changed); err != nil {
		reason := fmt.Sprintf("settings change vetoed (%s): %v", strings.Join(changed, ", "), err)
		i.logger.Warn("settings change vetoed; recycling to apply it", "settings", changed, "error", err.Error())
		h.beginInstanceStop(i, &RecycleError{Reason: reason})
		return
	}
	i.setSettings(next.Settings)
	i.logger.Info("settings changed", "settings", changed)
	i.changedHandlers(timeout, changed)
}
