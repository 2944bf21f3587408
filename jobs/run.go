package jobs

import (
	"encoding/json"
	"time"
)

// Kind is whether a job runs by itself or when triggered, as in WebJobs.
type Kind string

const (
	// Triggered jobs run when started (by a client, or by their schedule),
	// each run on exactly one instance of the fleet.
	Triggered Kind = "triggered"
	// Continuous jobs start with the instance and are restarted (with
	// backoff) when they end, on every instance, or with Singleton on one.
	Continuous Kind = "continuous"
)

// TriggerType says how a run was started.
type TriggerType string

const (
	// TriggerManual: by a person: the jobs run verb, or the console.
	TriggerManual TriggerType = "manual"
	// TriggerAPI: from the Go client or over HTTP.
	TriggerAPI TriggerType = "api"
	// TriggerSchedule: by the job's NCRONTAB schedule.
	TriggerSchedule TriggerType = "schedule"
	// TriggerContinuous: a continuous job's start or restart.
	TriggerContinuous TriggerType = "continuous"
)

// Trigger is how a run was started and with what.
type Trigger struct {
	Type TriggerType `json:"type"`
	// Args are the run's arguments: a Go job's Invocation.Args, a
	// program's arguments after its command (and, joined by spaces, its
	// WEBJOBS_COMMAND_ARGUMENTS).
	Args []string `json:"args,omitempty"`
	// Fire is the schedule's fire time of a scheduled run.
	Fire time.Time `json:"fire,omitzero"`
}

// Run is one run of a job: what PowerShell calls a job object. It is
// stored in NATS as JSON, so any instance, client or process reads the
// same record, also after the instance that ran it is gone.
type Run struct {
	// ID is "<job>.<UTC start time>-<suffix>", unique in the fleet and
	// ordered by time within a job.
	ID   string `json:"id"`
	Job  string `json:"job"`
	Kind Kind   `json:"kind"`
	// Trigger is how it was started, with its arguments.
	Trigger Trigger `json:"trigger"`
	// State is as stored, except Disconnected, which readers derive from
	// the record's age (see Disconnected).
	State State `json:"state"`
	// Instance is the instance that runs (or ran) it; empty while
	// NotStarted.
	Instance string `json:"instance,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// ExitCode is a program's exit code; nil for a Go job, a program
	// that did not exit by itself (stopped, killed), or one not started.
	ExitCode *int `json:"exit_code,omitempty"`
	// Error says why it Failed, or how it was Stopped.
	Error string `json:"error,omitempty"`

	// StopRequested is set by a client's Stop; the instance running the
	// run then stops it.
	StopRequested bool `json:"stop_requested,omitempty"`

	// Lines and OutputBytes count the output stored now (updated with
	// every heartbeat and at the end); Dropped counts the lines no longer
	// stored: the oldest ones, removed to keep the run's output within
	// Options.HistoryBytes (OutputBytes is then an estimate).
	Lines       int64 `json:"lines"`
	OutputBytes int64 `json:"output_bytes"`
	Dropped     int64 `json:"dropped,omitempty"`

	// Heartbeat is how often the running instance rewrites the record:
	// a record older than three heartbeats reads as Disconnected.
	Heartbeat Duration `json:"heartbeat,omitzero"`
	// UpdatedAt is when the server stored the record's latest version
	// (not stored in the JSON: it comes from the record's metadata).
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	// HasMoreData reports output stored after the last Receive without
	// Keep (PowerShell's HasMoreData). Set by Get.
	HasMoreData bool `json:"has_more_data"`

	// Session identifies the runner that claimed the run: a restarted
	// instance keeps its Instance name but not its session.
	Session string `json:"session,omitempty"`
}

// Duration marshals as a Go duration string ("5s").
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

// IsZero reports a zero duration, for omitzero.
func (d Duration) IsZero() bool { return d == 0 }

// Duration is how long the run ran: from its start to its end, or to now
// while it runs; zero if it never started.
func (r *Run) Duration(now time.Time) time.Duration {
	switch {
	case r.StartedAt.IsZero():
		return 0
	case r.EndedAt.IsZero():
		return now.Sub(r.StartedAt)
	}
	return r.EndedAt.Sub(r.StartedAt)
}

// disconnectedAfter is how old a Running record may be before it reads as
// Disconnected: three heartbeats.
func disconnectedAfter(beat time.Duration) time.Duration { return 3 * beat }

// observe returns r as a reader at now sees it: Running turns Disconnected
// when the record is older than three heartbeats.
func (r Run) observe(now time.Time) Run {
	if r.State == Running && r.Heartbeat > 0 && !r.UpdatedAt.IsZero() &&
		now.Sub(r.UpdatedAt) > disconnectedAfter(time.Duration(r.Heartbeat)) {
		r.State = Disconnected
	}
	return r
}
