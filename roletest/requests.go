package roletest

import (
	"fmt"
	"slices"
)

// SetBusy records the call; Busy and BusyCalls report it.
func (e *Env) SetBusy(busy bool) {
	e.mu.Lock()
	was := e.busy
	e.busy = busy
	e.busyCalls = append(e.busyCalls, busy)
	e.mu.Unlock()
	if was != busy {
		e.logger.Info("busy", "busy", busy)
	}
}

// RequestRecycle records the first reason (RecycleRequested reports it).
// Under an Instance it also begins the instance's stop as the host's
// recycle does: Run's context is cancelled with a cause wrapping
// ErrRecycled and naming the reason, then OnStop runs. It returns at once.
// A call after the instance ended does nothing, as under the host.
func (e *Env) RequestRecycle(reason string) {
	e.mu.Lock()
	inst := e.inst
	if inst != nil && inst.ended() {
		e.mu.Unlock()
		return
	}
	if e.recycle == nil {
		e.recycle = &reason
	}
	e.mu.Unlock()
	e.logger.Info("recycle requested", "reason", reason)
	if inst != nil {
		inst.beginStop(fmt.Errorf("%w: recycle requested: %s", ErrRecycled, reason))
	}
}

// RequestStop records the first reason (StopRequested reports it). Under
// an Instance it also begins the instance's stop as the host's graceful
// stop does: Run's context is cancelled with a cause wrapping ErrStopped
// and naming the reason, then OnStop runs. It returns at once.
func (e *Env) RequestStop(reason string) {
	e.mu.Lock()
	inst := e.inst
	if e.stop == nil {
		e.stop = &reason
	}
	e.mu.Unlock()
	e.logger.Info("stop requested", "reason", reason)
	if inst != nil {
		inst.beginStop(fmt.Errorf("%w: stop requested by the role: %s", ErrStopped, reason))
	}
}

// Busy reports the argument of the last SetBusy call (false if none):
// whether the host's readiness probe would answer 503 "busy".
func (e *Env) Busy() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.busy
}

// BusyCalls returns the argument of every SetBusy call so far, in order.
func (e *Env) BusyCalls() []bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.busyCalls)
}

// RecycleRequested returns the reason of the first RequestRecycle call and
// true, or false if the role made none.
func (e *Env) RecycleRequested() (reason string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.recycle == nil {
		return "", false
	}
	return *e.recycle, true
}

// StopRequested returns the reason of the first RequestStop call and true,
// or false if the role made none.
func (e *Env) StopRequested() (reason string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stop == nil {
		return "", false
	}
	return *e.stop, true
}
