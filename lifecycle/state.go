package lifecycle

// State is an instance's lifecycle state, reported by these names in logs
// and /status.
type State string

// The states, in the order an instance goes through them.
const (
	StateStarting  State = "starting"  // running startup tasks
	StateFrozen    State = "frozen"    // the Freeze setting (or auto-freeze) holds the instance
	StateOnStart   State = "onstart"   // OnStart is running
	StateReady     State = "ready"     // OnStart returned nil; Run about to be called
	StateRunning   State = "running"   // Run is running
	StateStopping  State = "stopping"  // Run's context cancelled; waiting for Run, OnStop, foreground tasks
	StateRecycling State = "recycling" // between a stop and the next start (including backoff)
	StateStopped   State = "stopped"   // the host has stopped
)

// ready reports whether the state admits work (busy and outages aside).
func (s State) ready() bool { return s == StateReady || s == StateRunning }
