package roletest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Set sets a setting at once, calling no handler: for arranging a test, as
// a config file edited before the process starts would. Use Change for a
// live change the role must react to.
func (e *Env) Set(name, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.settings[name] = value
}

// Unset removes a setting at once, calling no handler; Setting then
// returns an error wrapping role.ErrSettingNotFound.
func (e *Env) Unset(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.settings, name)
}

// Change makes a live settings change, as the host does when its config
// file changes: values are set (other settings stay), and the names whose
// value is new or different (sorted) go to the handlers. It calls the
// OnChanging handlers in registration order; the first that returns an
// error, panics or overruns Options.HandlerTimeout vetoes the change.
// Change then returns that veto (the error wraps the handler's), applies
// nothing and calls no OnChanged handler; under an Instance it also begins
// the instance's stop with a cause wrapping ErrRecycled, since the host
// recycles to apply a vetoed change (the next instance sees the new
// values). Otherwise Change applies the values, so Setting returns them,
// then calls the OnChanged handlers (their panics and overruns are logged)
// and returns nil.
//
// The handlers get a context derived from ctx carrying what the hook
// contexts carry, bounded by the handler timeout, and cancelled when the
// instance stops. While an Instance is not running (OnStart has not
// returned yet, or its stop has begun), Change applies the values without
// calling any handler, as the host does: the role reads settings as it
// starts and has nobody to ask while it stops. Change with no value that
// differs does nothing.
func (e *Env) Change(ctx context.Context, values map[string]string) error {
	e.mu.Lock()
	var changed []string
	for n, v := range values {
		if old, ok := e.settings[n]; !ok || old != v {
			changed = append(changed, n)
		}
	}
	sort.Strings(changed)
	inst := e.inst
	if len(changed) == 0 {
		e.mu.Unlock()
		return nil
	}
	if inst != nil && !inst.running() {
		maps.Copy(e.settings, values)
		e.mu.Unlock()
		return nil
	}
	changing, changedFns := slices.Clone(e.onChanging), slices.Clone(e.onChanged)
	e.mu.Unlock()

	hctx := e.withValues(ctx)
	if inst != nil {
		var stop func()
		hctx, stop = inst.tie(hctx)
		defer stop()
	}
	for _, fn := range changing {
		if err := e.callHandler(hctx, "Changing", func(ctx context.Context) error { return fn(ctx, changed) }); err != nil {
			veto := fmt.Errorf("settings change vetoed (%s): %w", strings.Join(changed, ", "), err)
			e.logger.Warn("settings change vetoed; recycling to apply it", "settings", changed, "error", err.Error())
			if inst != nil {
				inst.beginStop(fmt.Errorf("%w: %w", ErrRecycled, veto))
			}
			return veto
		}
	}
	e.mu.Lock()
	maps.Copy(e.settings, values)
	e.mu.Unlock()
	e.logger.Info("settings changed", "settings", changed)
	for _, fn := range changedFns {
		err := e.callHandler(hctx, "Changed", func(ctx context.Context) error { fn(ctx, changed); return nil })
		if err != nil {
			e.logger.Error("Changed handler failed", "error", err.Error())
		}
	}
	return nil
}

// callHandler runs fn on its own goroutine, as the host does, so that a
// handler that hangs only costs the handler timeout. An Instance's stop
// waits for the goroutine.
func (e *Env) callHandler(parent context.Context, kind string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, e.handlerTimeout)
	defer cancel()
	done := make(chan error, 1)
	e.handlers.Add(1)
	go func() {
		defer e.handlers.Done()
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("%s handler panicked: %v", kind, v)
			}
		}()
		done <- fn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if parent.Err() != nil {
			return fmt.Errorf("%s handler: %w", kind, context.Cause(parent))
		}
		return fmt.Errorf("%s handler did not return within %s", kind, e.handlerTimeout)
	}
}
