package startup

import (
	"encoding/json"
	"errors"
	"os/exec"
	"sync"
	"time"
)

// State is a startup task's state in Results.
type State string

const (
	StateNotStarted State = "not-started" // declared after a task that failed the start
	StateRunning    State = "running"
	StateExited     State = "exited"  // exited 0 by itself
	StateFailed     State = "failed"  // exited non-zero by itself
	StateTimeout    State = "timeout" // a simple task killed at its timeout
	StateStopped    State = "stopped" // a background task stopped with the instance
	StateKilled     State = "killed"  // killed: start interrupted, stop deadline, forced exit
)

// Result is one task's outcome, for /status.
type Result struct {
	Name      string
	Kind      Kind
	State     State
	PID       int
	ExitCode  *int          // nil while running or if it did not exit by itself
	StartedAt time.Time     // zero if not started
	Duration  time.Duration // so far, while running
}

type resultJSON struct {
	Name      string     `json:"name"`
	Kind      Kind       `json:"kind"`
	State     State      `json:"state"`
	PID       int        `json:"pid,omitempty"`
	ExitCode  *int       `json:"exit_code,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	Duration  string     `json:"duration,omitempty"`
}

// MarshalJSON renders the duration as a Go duration string.
func (r Result) MarshalJSON() ([]byte, error) {
	j := resultJSON{Name: r.Name, Kind: r.Kind, State: r.State, PID: r.PID, ExitCode: r.ExitCode}
	if !r.StartedAt.IsZero() {
		j.StartedAt = &r.StartedAt
		j.Duration = r.Duration.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{Name: j.Name, Kind: j.Kind, State: j.State, PID: j.PID, ExitCode: j.ExitCode}
	if j.StartedAt != nil {
		r.StartedAt = *j.StartedAt
	}
	if j.Duration != "" {
		d, err := time.ParseDuration(j.Duration)
		if err != nil {
			return err
		}
		r.Duration = d
	}
	return nil
}

// proc is one started task process.
type proc struct {
	task    Task
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed after Wait returned and output was drained

	mu      sync.Mutex
	state   State
	ended   time.Time
	code    int
	waitErr error
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// markKilled records that the host ended the process, so its exit is not
// reported as the task's own failure.
func (p *proc) markKilled(s State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == StateRunning || (p.state == StateStopped && s == StateKilled) {
		p.state = s
	}
}

func (p *proc) finish(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = time.Now()
	p.waitErr = err
	p.code = -1
	var ee *exec.ExitError
	switch {
	case err == nil:
		p.code = 0
	case errors.As(err, &ee) && ee.Exited():
		p.code = ee.ExitCode()
	}
	if p.state != StateRunning {
		return
	}
	p.state = StateExited
	if p.code != 0 {
		p.state = StateFailed
	}
}

func (p *proc) exitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

func (p *proc) result() Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := Result{Name: p.task.Name, Kind: p.task.Kind, State: p.state, PID: p.cmd.Process.Pid, StartedAt: p.started}
	if p.ended.IsZero() {
		r.Duration = time.Since(p.started)
		return r
	}
	r.Duration = p.ended.Sub(p.started)
	if p.code >= 0 {
		code := p.code
		r.ExitCode = &code
	}
	return r
}
