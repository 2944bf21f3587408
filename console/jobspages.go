package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cloudrole/cloudrole/jobs"
)

// The jobs pages: every job of the fleet, a job's runs, and a run with
// its output. They read through the jobs client, as the jobs verbs do.

func (c *Console) jobsView() view {
	return view{title: "Jobs", nav: "jobs", main: "jobs-main", data: func(ctx context.Context) (any, string) {
		rows, note := c.jobRows(ctx)
		return rows, note
	}}
}

func (c *Console) jobView(job, state string) view {
	return view{title: job, nav: "jobs", page: "job.html", main: "job-main", data: func(ctx context.Context) (any, string) {
		d, note := c.jobDetail(ctx, job, state)
		if d == nil {
			return nil, note
		}
		return d, note
	}}
}

// runView keeps the run's output tail between its updates, so a live
// page reads only new lines, and ends its live updates once the run has
// ended and its output is read.
func (c *Console) runView(job, id string) view {
	var (
		t     tail
		ended bool
	)
	return view{title: id, nav: "jobs", page: "run.html", main: "run-main", done: func() bool { return ended },
		data: func(ctx context.Context) (any, string) {
			if err := checkRun(job, id); err != nil {
				ended = true
				return nil, err.Error()
			}
			jc, note := c.jobsClient(ctx)
			if jc == nil {
				return nil, note
			}
			// The record first: once it says ended, the output read next
			// holds every line the run wrote.
			run, err := jc.Get(ctx, id)
			if errors.Is(err, jobs.ErrNotFound) {
				ended = true
				return nil, notFound(job, id)
			}
			if err != nil {
				return nil, err.Error()
			}
			d := runDetail{Run: run}
			if err := t.update(ctx, jc, id); err != nil {
				d.OutputErr = fmt.Sprintf("output read up to line %d, then: %v", t.read, err)
			}
			d.Lines, d.Hidden = t.shown(), t.hidden()
			ended = run.State.Terminal() && d.OutputErr == ""
			return d, ""
		}}
}

func (c *Console) jobsPage(w http.ResponseWriter, r *http.Request, who string) {
	c.show(w, r, who, c.jobsView(), "/console/events?view=jobs")
}

func (c *Console) jobPage(w http.ResponseWriter, r *http.Request, who string) {
	job, state := r.PathValue("job"), r.URL.Query().Get("state")
	c.show(w, r, who, c.jobView(job, state),
		"/console/events?view=job&job="+url.QueryEscape(job)+"&state="+url.QueryEscape(state))
}

func (c *Console) runPage(w http.ResponseWriter, r *http.Request, who string) {
	job, id := r.PathValue("job"), r.PathValue("id")
	c.show(w, r, who, c.runView(job, id),
		"/console/events?view=run&job="+url.QueryEscape(job)+"&id="+url.QueryEscape(id))
}

// runOutput is a run's whole stored output as text, one "time LEVEL text"
// line per line, as the jobs API's .../output gives it — here under the
// console's own reading rules (its session cookie), and on the console's
// address when that is not the health server's.
func (c *Console) runOutput(w http.ResponseWriter, r *http.Request, who string) {
	job, id := r.PathValue("job"), r.PathValue("id")
	if err := checkRun(job, id); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	jc, note := c.jobsClient(r.Context())
	if jc == nil {
		http.Error(w, note, http.StatusNotFound)
		return
	}
	if _, err := jc.Get(r.Context(), id); errors.Is(err, jobs.ErrNotFound) {
		http.Error(w, notFound(job, id), http.StatusNotFound)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = jc.ReceiveFunc(r.Context(), id, jobs.ReceiveOptions{Keep: true}, func(l jobs.Line) error {
		_, err := fmt.Fprintln(w, jobs.FormatLine(l))
		return err
	})
}
