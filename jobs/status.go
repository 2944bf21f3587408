package jobs

import (
	"sort"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
)

// Status is a snapshot of a Runner, for the host's /status: the jobs this
// instance defines and what it is doing with them. It marshals to JSON.
type Status struct {
	Instance string `json:"instance"`
	// Connected is false until the runner reached NATS; Waiting then says
	// why not (a role with no jobs never connects).
	Connected bool   `json:"connected"`
	Waiting   string `json:"waiting,omitempty"`
	// Running counts runs under way here; Started counts runs started
	// here since the runner started; Abandoned counts Go jobs that ignored
	// their cancelled context (their goroutines are still running).
	Running   int         `json:"running"`
	Started   int64       `json:"started"`
	Abandoned int64       `json:"abandoned,omitempty"`
	Jobs      []JobStatus `json:"jobs"`
	// Problems are job folders not loaded, each with why (file and key).
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is a job folder that could not be loaded.
type Problem struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// JobStatus is one job as this instance runs it.
type JobStatus struct {
	Name      string `json:"name"`
	Kind      Kind   `json:"kind"`
	Source    string `json:"source"`
	Schedule  string `json:"schedule,omitempty"`
	Singleton bool   `json:"singleton,omitempty"`
	// State is "waiting" (not connected yet), "idle", "running" (runs
	// under way here), "inactive" (a singleton continuous job another
	// instance runs) or "backoff" (a continuous job waiting to restart).
	State string `json:"state"`
	// Running lists the IDs of its runs under way here.
	Running []string `json:"running,omitempty"`
	// NextFire is the schedule's next fire time.
	NextFire time.Time `json:"next_fire,omitzero"`
	// Counts of runs started and ended here, and fire times skipped
	// because a run was still going.
	Started   int64 `json:"started"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Stopped   int64 `json:"stopped"`
	Skipped   int64 `json:"skipped_fires,omitempty"`
	// LastRun is the last run ended here, with its state and error.
	LastRun   string    `json:"last_run,omitempty"`
	LastState State     `json:"last_state,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	LastEnded time.Time `json:"last_ended,omitzero"`
}

// counts are the runner's own figures.
type counts struct {
	started   int64
	abandoned int64
}

// jobStats are one job's figures here; they survive a redefinition of the
// job (a folder edited) and are guarded by Runner.mu.
type jobStats struct {
	started, completed, failed, stopped, skipped int64
	running                                      int
	last                                         Run
	nextFire                                     time.Time
	group                                        *tasks.Group // a continuous job's supervisor
}

func (s *jobStats) ended(r Run) {
	switch r.State {
	case Completed:
		s.completed++
	case Failed:
		s.failed++
	case Stopped:
		s.stopped++
	}
	s.last = r
}

// statsLocked returns the stats of job, made on first use.
func (r *Runner) statsLocked(job string) *jobStats {
	if r.stats == nil {
		r.stats = map[string]*jobStats{}
	}
	s := r.stats[job]
	if s == nil {
		s = &jobStats{}
		r.stats[job] = s
	}
	return s
}

// Status returns a snapshot of the runner. Safe to call at any time.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{Instance: r.o.Instance, Connected: r.conn != nil, Waiting: r.connErr,
		Running: len(r.runs), Started: r.counts.started, Abandoned: r.counts.abandoned, Jobs: []JobStatus{}}
	byJob := map[string][]string{}
	for id := range r.runs {
		byJob[jobOf(id)] = append(byJob[jobOf(id)], id)
	}
	for _, name := range r.namesLocked() {
		e := r.jobs[name]
		s := r.statsLocked(name)
		js := JobStatus{Name: name, Kind: e.job.Kind, Source: e.job.source, Schedule: e.job.Schedule,
			Singleton: e.job.singleton(), Running: byJob[name], NextFire: s.nextFire,
			Started: s.started, Completed: s.completed, Failed: s.failed, Stopped: s.stopped, Skipped: s.skipped,
			LastRun: s.last.ID, LastState: s.last.State, LastError: s.last.Error, LastEnded: s.last.EndedAt}
		sort.Strings(js.Running)
		switch {
		case r.conn == nil:
			js.State = "waiting"
		case len(js.Running) > 0:
			js.State = "running"
		default:
			js.State = "idle"
		}
		if s.group != nil && len(js.Running) == 0 {
			for _, t := range s.group.Status().Tasks {
				switch t.State {
				case tasks.StateInactive:
					js.State = "inactive"
				case tasks.StateBackoff:
					js.State = "backoff"
				}
			}
		}
		st.Jobs = append(st.Jobs, js)
	}
	for path, err := range r.problems {
		st.Problems = append(st.Problems, Problem{Path: path, Error: err})
	}
	sort.Slice(st.Problems, func(i, j int) bool { return st.Problems[i].Path < st.Problems[j].Path })
	return st
}
