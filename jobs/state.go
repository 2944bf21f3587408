package jobs

// State is a run's state, named as PowerShell names a job's.
type State string

const (
	// NotStarted: triggered and queued; no instance has taken it yet.
	NotStarted State = "NotStarted"
	// Running: an instance runs it and keeps its record fresh.
	Running State = "Running"
	// Completed: a Go job returned nil, or a program exited 0.
	Completed State = "Completed"
	// Failed: a Go job returned an error or panicked, a program exited
	// non-zero or could not start, or the instance running it vanished
	// (Disconnected for longer than Options.FailAfter).
	Failed State = "Failed"
	// Stopped: ended by a Stop request, by the instance stopping, or by
	// its definition changing; the output up to then is kept.
	Stopped State = "Stopped"
	// Disconnected: recorded Running, but the instance running it has not
	// written its record for three heartbeats (it was killed, crashed or
	// lost its connection); it is not known to be over. It is never
	// stored: readers see it from the record's age. It turns Failed once
	// the record has been silent for Options.FailAfter.
	Disconnected State = "Disconnected"
)

// Terminal reports whether s is an end state: Completed, Failed or
// Stopped.
func (s State) Terminal() bool { return s == Completed || s == Failed || s == Stopped }

// valid reports whether s is one of the states.
func (s State) valid() bool {
	switch s {
	case NotStarted, Running, Completed, Failed, Stopped, Disconnected:
		return true
	}
	return false
}
