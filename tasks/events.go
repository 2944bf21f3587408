package tasks

import (
	"fmt"
	"time"
)

// Event is something that happened to a task, delivered to Options.OnEvent.
// It is one of EventPanic, EventFailure, EventBackoff, EventStall,
// EventMisfire, EventLeaseAcquired, EventLeaseLost, EventFatal or
// EventStopped; switch on the type to read its fields.
type Event interface {
	// TaskName names the task the event is about.
	TaskName() string
	// String describes the event in one line.
	String() string
	isEvent()
}

// EventPanic: a task's function panicked; the panic was recovered.
type EventPanic struct {
	Group, Task string
	// Value is what the function panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack string
}

// EventFailure: a run returned an error (or was stalled, or returned after a
// stall cancelled it). Panics are reported as EventPanic instead.
type EventFailure struct {
	Group, Task string
	Err         error
}

// EventBackoff: a Go task ended and will restart after Delay. Restarts
// counts its restarts so far, this one included.
type EventBackoff struct {
	Group, Task string
	Restarts    int
	Delay       time.Duration
}

// EventStall: a run stayed silent (no Beat) for Silent, past its StallAfter
// limit; its context is cancelled with cause ErrStalled.
type EventStall struct {
	Group, Task string
	Silent      time.Duration
}

// EventMisfire: a CRON task missed the fire time Missed (and possibly later
// ones); Policy says what it does about it.
type EventMisfire struct {
	Group, Task string
	Missed      time.Time
	Policy      MisfirePolicy
}

// EventLeaseAcquired: a Singleton task took its lock and will run.
type EventLeaseAcquired struct {
	Group, Task, Lock string
	Token             uint64
}

// EventLeaseLost: a Singleton task lost its lock; its run is cancelled with
// a cause wrapping ErrLeaseLost and it goes inactive.
type EventLeaseLost struct {
	Group, Task, Lock string
	Token             uint64
	Err               error
}

// EventFatal: the task ended the group; Err is the *FatalError Wait returns.
type EventFatal struct {
	Group, Task string
	Err         error
}

// EventStopped: a task stopped for good, because its restart policy said so
// (Err is what its last run returned, nil for a clean return) or because the
// group ended.
type EventStopped struct {
	Group, Task string
	Err         error
}

// TaskName returns e.Task.
func (e EventPanic) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventFailure) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventBackoff) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventStall) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventMisfire) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventLeaseAcquired) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventLeaseLost) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventFatal) TaskName() string { return e.Task }

// TaskName returns e.Task.
func (e EventStopped) TaskName() string { return e.Task }

func (EventPanic) isEvent()         {}
func (EventFailure) isEvent()       {}
func (EventBackoff) isEvent()       {}
func (EventStall) isEvent()         {}
func (EventMisfire) isEvent()       {}
func (EventLeaseAcquired) isEvent() {}
func (EventLeaseLost) isEvent()     {}
func (EventFatal) isEvent()         {}
func (EventStopped) isEvent()       {}

// String describes e in one line.
func (e EventPanic) String() string {
	return fmt.Sprintf("%s/%s: panic: %v", e.Group, e.Task, e.Value)
}

// String describes e in one line.
func (e EventFailure) String() string {
	return fmt.Sprintf("%s/%s: failed: %v", e.Group, e.Task, e.Err)
}

// String describes e in one line.
func (e EventBackoff) String() string {
	return fmt.Sprintf("%s/%s: restart #%d in %v", e.Group, e.Task, e.Restarts, e.Delay)
}

// String describes e in one line.
func (e EventStall) String() string {
	return fmt.Sprintf("%s/%s: stalled: silent for %v", e.Group, e.Task, e.Silent)
}

// String describes e in one line.
func (e EventMisfire) String() string {
	return fmt.Sprintf("%s/%s: missed %s: %v", e.Group, e.Task, e.Missed.Format(time.RFC3339), e.Policy)
}

// String describes e in one line.
func (e EventLeaseAcquired) String() string {
	return fmt.Sprintf("%s/%s: acquired lock %q (token %d)", e.Group, e.Task, e.Lock, e.Token)
}

// String describes e in one line.
func (e EventLeaseLost) String() string {
	return fmt.Sprintf("%s/%s: lost lock %q (token %d): %v", e.Group, e.Task, e.Lock, e.Token, e.Err)
}

// String describes e in one line.
func (e EventFatal) String() string {
	return fmt.Sprintf("%s/%s: %v", e.Group, e.Task, e.Err)
}

// String describes e in one line.
func (e EventStopped) String() string {
	if e.Err != nil {
		return fmt.Sprintf("%s/%s: stopped: %v", e.Group, e.Task, e.Err)
	}
	return fmt.Sprintf("%s/%s: stopped", e.Group, e.Task)
}
