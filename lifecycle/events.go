package lifecycle

import "time"

// Event is something that happened in the host, delivered to
// Options.Events. The concrete types are StateChanged, Recycled,
// ConfigReloaded, ConfigRejected and HostStopping.
type Event interface{ isEvent() }

// StateChanged reports a new instance state.
type StateChanged struct {
	Incarnation int
	State       State
	At          time.Time
}

// Recycled reports an instance that ended while the host keeps running.
type Recycled struct{ Recycle }

// ConfigReloaded reports a new config taken live; Changed names the
// settings that changed.
type ConfigReloaded struct{ Changed []string }

// ConfigRejected reports a config file change that was not taken; the
// previous config stays.
type ConfigRejected struct{ Err error }

// HostStopping reports that the host began its stop (a signal, a service
// stop, Stop, or its context ending): the stop deadline runs from now. It
// comes once, before the instance's own StateChanged to stopping.
type HostStopping struct{ Cause error }

func (HostStopping) isEvent()   {}
func (StateChanged) isEvent()   {}
func (Recycled) isEvent()       {}
func (ConfigReloaded) isEvent() {}
func (ConfigRejected) isEvent() {}

// emit delivers ev to Options.Events. It is never called with h.mu held, so
// a handler may call the host's methods.
func (h *Host) emit(ev Event) {
	if ev == nil {
		return
	}
	if h.opts.Events != nil {
		h.opts.Events(ev)
	}
	switch ev.(type) {
	case StateChanged, Recycled:
		h.fleet.Kick() // the fleet sees a state change at once
	}
}
