package tasks

import (
	"fmt"
	"strings"
	"time"
)

// State is what a task is doing, as shown in its status.
type State string

const (
	// StateRunning: the task's function is running.
	StateRunning State = "running"
	// StateBackoff: the task ended and waits its restart delay.
	StateBackoff State = "backoff"
	// StateStalled: the run was cancelled for a stall and has not returned
	// yet.
	StateStalled State = "stalled"
	// StateStopped: the task will not run again (restart policy, or the
	// group ended).
	StateStopped State = "stopped"
	// StateInactive: a Singleton task whose lock another instance holds; it
	// keeps trying to acquire it.
	StateInactive State = "inactive"
	// StateScheduled: a periodic or CRON task waiting for its next run.
	StateScheduled State = "scheduled"
)

// TaskStatus is a snapshot of one task. It marshals to JSON.
type TaskStatus struct {
	Name string `json:"name"`
	// Kind is "go", "periodic" or "cron".
	Kind string `json:"kind"`
	// Schedule is the interval of a periodic task or the spec of a CRON
	// task (with its time zone).
	Schedule  string `json:"schedule,omitempty"`
	Singleton bool   `json:"singleton,omitempty"`
	State     State  `json:"state"`
	// Restarts counts restarts of a Go task and failed runs of a scheduled
	// one.
	Restarts int `json:"restarts"`
	// Runs counts calls of the task's function.
	Runs int64 `json:"runs"`
	// Misfires counts times a CRON task found fire times missed.
	Misfires int `json:"misfires,omitempty"`
	// LastError is the error of the last failed run, panics included.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// LastPanic is the last panic value and the first frames of its stack.
	LastPanic string `json:"last_panic,omitempty"`
	// Panics counts the panics recovered from the task's function.
	Panics int `json:"panics,omitempty"`
	// LastHeartbeat is the time of the last Beat.
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	// NextRun is when the task runs next: its restart time in backoff, its
	// next scheduled run when scheduled.
	NextRun time.Time `json:"next_run,omitzero"`
	// LeaseToken is the fencing token of the lock a Singleton task holds.
	LeaseToken uint64 `json:"lease_token,omitempty"`
}

// GroupStatus is a snapshot of a group. It marshals to JSON.
type GroupStatus struct {
	Name string `json:"name"`
	// State is "running", "stopping" (the context ended, tasks are
	// returning) or "stopped".
	State string `json:"state"`
	// Error is what Wait returns (or will), if not nil.
	Error string `json:"error,omitempty"`
	// Tasks are in the order they were added.
	Tasks []TaskStatus `json:"tasks"`
}

// Status returns a snapshot of the group and its tasks. Safe to call at any
// time from any goroutine, also after the group ended.
func (g *Group) Status() GroupStatus {
	g.mu.Lock()
	gs := GroupStatus{Name: g.s.name, State: "running"}
	switch {
	case g.finished:
		gs.State = "stopped"
	case g.ctx.Err() != nil:
		gs.State = "stopping"
	}
	if err := g.resultLocked(); err != nil {
		gs.Error = err.Error()
	}
	ts := make([]*task, len(g.tasks))
	copy(ts, g.tasks)
	g.mu.Unlock()

	gs.Tasks = make([]TaskStatus, len(ts))
	for i, t := range ts {
		gs.Tasks[i] = t.status()
	}
	return gs
}

func (t *task) status() TaskStatus {
	s := TaskStatus{
		Name:      t.name,
		Kind:      t.kind.String(),
		Singleton: t.single != nil,
	}
	switch t.kind {
	case kindPeriodic:
		s.Schedule = t.interval.String()
	case kindCron:
		s.Schedule = t.cron.String()
	}
	if b := t.lastBeat.Load(); b != 0 {
		s.LastHeartbeat = time.Unix(0, b)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.State = t.state
	s.Restarts = t.restartCount
	s.Runs = t.runs
	s.Misfires = t.misfires
	s.NextRun = t.nextRun
	if f := t.fails; f != nil {
		s.LastError, s.LastErrorAt = f.lastErr, f.lastErrAt
		if f.lastPanic != nil {
			s.LastPanic = panicSummary(f.lastPanic.value, f.lastPanic.stack)
		}
		s.Panics = f.panics
	}
	if t.single != nil && t.single.lease != nil {
		s.LeaseToken = t.single.token
	}
	return s
}

// panicSummary returns the panic value and the first frames of the stack
// below the panic, for status: enough to see where, short enough for JSON.
func panicSummary(value any, stack []byte) string {
	const frames = 4
	s := string(stack)
	// Drop the frames of the recovery machinery: everything up to the
	// runtime's panic frame (a "panic(" line and its file line).
	if i := strings.Index(s, "\npanic("); i >= 0 {
		s = s[i+1:]
		for range 2 {
			if j := strings.IndexByte(s, '\n'); j >= 0 {
				s = s[j+1:]
			}
		}
	}
	lines := strings.SplitN(s, "\n", 2*frames+1)
	if len(lines) > 2*frames {
		lines = lines[:2*frames]
	}
	return "panic: " + fmt.Sprint(value) + "\n" + strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
