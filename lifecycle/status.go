package lifecycle

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/fleet"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/startup"
	"github.com/cloudrole/cloudrole/tasks"
)

// Status is the host's snapshot, served as JSON on /status. It holds no
// setting values and no credentials: settings appear by name only.
type Status struct {
	State       State         `json:"state"`
	StateSince  time.Time     `json:"state_since"`
	Ready       bool          `json:"ready"`
	ReadyReason string        `json:"ready_reason,omitempty"`
	Busy        bool          `json:"busy"`
	Frozen      string        `json:"frozen,omitempty"` // why, when frozen
	Stopping    bool          `json:"stopping"`
	Hook        string        `json:"hook,omitempty"` // the hook or phase running now
	Identity    role.Identity `json:"identity"`
	StartedAt   time.Time     `json:"started_at"`
	Uptime      Duration      `json:"uptime"`

	Recycles            int        `json:"recycles"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	NextStart           *time.Time `json:"next_start,omitempty"` // during crash-loop backoff
	RecycleHistory      []Recycle  `json:"recycle_history"`

	StartupTasks []startup.Result `json:"startup_tasks"`

	ConfigFile  string   `json:"config_file,omitempty"`
	ConfigError string   `json:"config_error,omitempty"` // why the last reload was rejected
	Settings    []string `json:"settings"`               // names only

	// Tasks are the role's supervised task groups (package tasks), each
	// task with its state, restarts, last error and panic, next run.
	Tasks []tasks.GroupStatus `json:"tasks,omitempty"`

	// Workers are the queue workers running in this instance (package
	// queue), with their queue's figures.
	Workers []queue.WorkerStatus `json:"workers,omitempty"`

	// Durable are the orchestration hubs working in this instance
	// (package durable): their tasks running and done.
	Durable []durable.HubStatus `json:"durable,omitempty"`
	// Jobs is the instance's job runner (package jobs): its jobs, what
	// runs here, and job folders that could not be loaded.
	Jobs *jobs.Status `json:"jobs,omitempty"`

	// Components holds any other sections packages registered, by name.
	Components map[string]any `json:"components,omitempty"`

	// NATS is the queue connection: embedded or external, connected or
	// not, and per-queue figures (state "unused" until a role connects).
	NATS queue.ProviderStatus `json:"nats"`
}

// Summary is the part of the snapshot a fleet view shows of each instance.
func (s Status) Summary() fleet.Summary {
	sum := fleet.Summary{Ready: s.Ready, ReadyReason: s.ReadyReason, Busy: s.Busy, Frozen: s.Frozen,
		Uptime: time.Duration(s.Uptime), Recycles: s.Recycles, Failures: s.ConsecutiveFailures}
	if n := len(s.RecycleHistory); n > 0 {
		sum.LastRecycle = s.RecycleHistory[n-1].Reason
	}
	return sum
}

// Duration marshals as a Go duration string ("1m30s").
type Duration time.Duration

// MarshalJSON renders d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Status returns a snapshot of the host. Safe to call at any time.
func (h *Host) Status() Status {
	ready, reason := h.ready()
	now := h.opts.Clock.Now()
	h.mu.Lock()
	s := Status{
		State:               h.state,
		StateSince:          h.stateSince,
		Ready:               ready,
		ReadyReason:         reason,
		Stopping:            h.stopping,
		Hook:                h.hook,
		StartedAt:           h.start,
		Recycles:            h.recycles,
		ConsecutiveFailures: h.streak,
		RecycleHistory:      append([]Recycle{}, h.history...),
		ConfigFile:          h.cfg.File,
		ConfigError:         h.configErr,
		StartupTasks:        []startup.Result{},
	}
	if !h.start.IsZero() {
		s.Uptime = Duration(now.Sub(h.start))
	}
	if h.state == StateFrozen {
		s.Frozen = h.frozenReasonLocked(true)
	}
	if !h.nextStart.IsZero() {
		t := h.nextStart
		s.NextStart = &t
	}
	i := h.inst
	h.mu.Unlock()

	if i != nil {
		s.Identity = i.id
		s.Busy = i.busy.Load()
		s.Settings = i.SettingNames()
		if sr := i.startup.Load(); sr != nil {
			s.StartupTasks = sr.Results()
		}
	}
	s.sections(h.status.Snapshot())
	s.NATS = h.queues.Status()
	return s
}

// sections sorts the registered sections into their typed fields, in the
// order of their names; what no field takes stays in Components.
func (s *Status) sections(snap map[string]any) {
	names := make([]string, 0, len(snap))
	for n := range snap {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		switch v := snap[n].(type) {
		case tasks.GroupStatus:
			s.Tasks = append(s.Tasks, v)
		case queue.WorkerStatus:
			s.Workers = append(s.Workers, v)
		case durable.HubStatus:
			s.Durable = append(s.Durable, v)
		case jobs.Status:
			s.Jobs = &v
		default:
			if s.Components == nil {
				s.Components = map[string]any{}
			}
			s.Components[n] = v
		}
	}
}

// ready is the readiness verdict and, when not ready, the reason.
func (h *Host) ready() (bool, string) {
	if ok, why := h.instanceReady(); !ok {
		// OnStart is where roles usually connect, and a connect to an
		// external server waits until the server answers: say what it
		// waits for rather than only "onstart". Asked outside h.mu, as
		// below.
		if why == string(StateOnStart) {
			if err := h.queues.Check(); err != nil {
				return false, why + ": " + err.Error()
			}
		}
		return false, why
	}
	// A role that uses queues cannot work while NATS is unreachable; asked
	// outside h.mu, since the provider takes its own lock.
	if err := h.queues.Check(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// instanceReady is readiness as the instance alone sees it.
func (h *Host) instanceReady() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.stopping:
		return false, "stopping"
	case h.state == StateFrozen:
		return false, "frozen: " + h.frozenReasonLocked(true)
	case !h.state.ready():
		return false, string(h.state)
	case h.inst != nil && h.inst.busy.Load():
		return false, "busy"
	}
	return true, ""
}

// probe adapts the host to health.Probe.
type probe struct{ h *Host }

func (p probe) Live(ctx context.Context) error { return p.h.Live(ctx) }
func (p probe) Ready() (bool, string)          { return p.h.ready() }
func (p probe) Status() any                    { return p.h.Status() }
