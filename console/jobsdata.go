package console

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cloudrole/cloudrole/jobs"
)

// noJobs is the notice of a fleet where no instance has defined a job.
const noJobs = "no jobs in this fleet: no running instance defines one"

// jobsClient returns a jobs client on the role's NATS, or a notice saying
// why there is none. It opens the jobs store without creating it: looking
// at the console must leave nothing behind on a NATS where no instance
// ever had a job. A client is kept once the store exists, and made again
// if the role's connection changed.
func (c *Console) jobsClient(ctx context.Context) (*jobs.Client, string) {
	cl := c.client()
	if cl == nil {
		return nil, "this role has not connected to NATS: there are no jobs to show"
	}
	c.jmu.Lock()
	jc, on := c.jc, c.jcOn
	c.jmu.Unlock()
	if jc != nil && on == cl {
		return jc, ""
	}
	jc, err := jobs.NewClient(ctx, cl, jobs.ClientOptions{NoCreate: true})
	if errors.Is(err, jobs.ErrNoStore) {
		return nil, noJobs
	}
	if err != nil {
		return nil, err.Error()
	}
	c.jmu.Lock()
	c.jc, c.jcOn = jc, cl
	c.jmu.Unlock()
	return jc, ""
}

// jobRow is one job on the jobs page: its definition, if a running
// instance publishes one, and its runs at a glance.
type jobRow struct {
	jobs.Definition
	// Defined is false for a job whose runs are stored but which no
	// running instance defines now.
	Defined bool
	// Last is its newest run (zero if none).
	Last jobs.Run
	// Running counts runs Running or Disconnected (not known to be over);
	// Queued counts runs NotStarted.
	Running, Queued int
}

// jobRows reads every job the fleet defines and every stored run, once
// each: one scan of the run records serves the whole page.
func (c *Console) jobRows(ctx context.Context) ([]jobRow, string) {
	jc, note := c.jobsClient(ctx)
	if jc == nil {
		return nil, note
	}
	defs, err := jc.Jobs(ctx)
	if err != nil {
		return nil, err.Error()
	}
	runs, err := jc.List(ctx, jobs.Filter{})
	if err != nil {
		return nil, err.Error()
	}
	byName := map[string]*jobRow{}
	for _, d := range defs {
		byName[d.Name] = &jobRow{Definition: d, Defined: true}
	}
	for _, r := range runs { // newest first
		row := byName[r.Job]
		if row == nil {
			row = &jobRow{Definition: jobs.Definition{Name: r.Job, Kind: r.Kind}}
			byName[r.Job] = row
		}
		if row.Last.ID == "" {
			row.Last = r
		}
		switch r.State {
		case jobs.Running, jobs.Disconnected:
			row.Running++
		case jobs.NotStarted:
			row.Queued++
		}
	}
	if len(byName) == 0 {
		return nil, noJobs
	}
	rows := make([]jobRow, 0, len(byName))
	for _, row := range byName {
		rows = append(rows, *row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, ""
}

// maxHistoryRows caps the runs the job page lists: a job keeps 50 ended
// runs by default, but up to jobs.max_queued may wait besides.
const maxHistoryRows = 100

// states are the run states, in the order the job page offers them as
// filters.
var states = []jobs.State{jobs.NotStarted, jobs.Running, jobs.Disconnected, jobs.Completed, jobs.Failed, jobs.Stopped}

// jobDetail is the job page: the job's definition and its runs.
type jobDetail struct {
	Name string
	// Def is its definition; Def.Name is "" when no running instance
	// defines the job (its stored runs are still shown).
	Def    jobs.Definition
	State  jobs.State // the filter, "" for all
	States []jobs.State
	Runs   []jobs.Run // newest first, at most maxHistoryRows
	Total  int        // runs that match the filter
}

// jobDetail reads a job's definition and its runs in state (all if "").
func (c *Console) jobDetail(ctx context.Context, job, state string) (*jobDetail, string) {
	if err := jobs.ValidName(job); err != nil {
		return nil, fmt.Sprintf("no job %q: %v", job, err)
	}
	d := &jobDetail{Name: job, State: jobs.State(state), States: states}
	if state != "" && !validState(d.State) {
		return nil, fmt.Sprintf("unknown state %q: filter by one of %s", state, stateList())
	}
	jc, note := c.jobsClient(ctx)
	if jc == nil {
		return nil, note
	}
	defs, err := jc.Jobs(ctx)
	if err != nil {
		return nil, err.Error()
	}
	for _, def := range defs {
		if def.Name == job {
			d.Def = def
		}
	}
	runs, err := jc.List(ctx, jobs.Filter{Job: job})
	if err != nil {
		return nil, err.Error()
	}
	if d.Def.Name == "" && len(runs) == 0 {
		return nil, "no job " + job + " in this fleet: no running instance defines it, and no runs of it are stored"
	}
	for _, r := range runs {
		if d.State == "" || r.State == d.State {
			d.Total++
			if len(d.Runs) < maxHistoryRows {
				d.Runs = append(d.Runs, r)
			}
		}
	}
	return d, ""
}

func validState(s jobs.State) bool {
	for _, v := range states {
		if s == v {
			return true
		}
	}
	return false
}

func stateList() string {
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// runDetail is the run page: the record and the end of its output.
type runDetail struct {
	Run    jobs.Run
	Lines  []jobs.Line // the last maxShownLines lines read
	Hidden int64       // lines read before those, not shown
	// OutputErr says why the output could not be read (all of it).
	OutputErr string
}

// checkRun reports whether id is a run ID of job, naming what is wrong.
func checkRun(job, id string) error {
	if err := jobs.CheckRunID(id); err != nil {
		return err
	}
	if !strings.HasPrefix(id, job+".") {
		return fmt.Errorf("%s is not a run of job %s", id, job)
	}
	return nil
}

// notFound is the notice of a run that is not stored.
func notFound(job, id string) string {
	return "no run " + id + " of job " + job + " is stored: it never existed, or the job's history no longer keeps it"
}
