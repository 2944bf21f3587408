package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/jobs"
)

// splitArgs reads the run form's arguments: one argument per line, as
// typed (a browser's CRLF ends a line too), empty lines skipped. No
// quoting rules to learn: an argument may hold spaces and quotes. An empty
// argument cannot be given here (the jobs verb and the API can).
func splitArgs(s string) []string {
	var args []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			args = append(args, line)
		}
	}
	return args
}

func jobPath(job string) string { return "/console/jobs/" + url.PathEscape(job) }

func runPath(job, id string) string { return jobPath(job) + "/runs/" + url.PathEscape(id) }

// runJob starts a run of a triggered job and shows the new run's page.
func (c *Console) runJob(w http.ResponseWriter, r *http.Request, who string) {
	job := r.PathValue("job")
	args := splitArgs(r.PostFormValue("args"))
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	jc, note := c.jobsClient(ctx)
	if jc == nil {
		c.o.Logger.Info("console action", "by", who, "action", "run", "job", job, "error", note)
		c.back(w, r, jobPath(job), "error", "not started: "+note)
		return
	}
	id, err := jc.Start(ctx, job, jobs.StartOptions{Args: args, Trigger: jobs.TriggerManual})
	c.o.Logger.Info("console action", "by", who, "action", "run", "job", job, "run", id, "args", len(args), "error", errText(err))
	if err != nil {
		// ErrAlreadyRunning names the run in the way; the API's 409.
		c.back(w, r, jobPath(job), "error", "not started: "+err.Error())
		return
	}
	http.Redirect(w, r, runPath(job, id)+"?"+url.Values{"notice": {"started run " + id}}.Encode(), http.StatusSeeOther)
}

// stopRun asks a run to stop; the instance running it stops it the
// WebJobs way, and the run page (live) shows it end.
func (c *Console) stopRun(w http.ResponseWriter, r *http.Request, who string) {
	job, id := r.PathValue("job"), r.PathValue("id")
	back := runPath(job, id)
	if err := checkRun(job, id); err != nil {
		c.back(w, r, back, "error", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	jc, note := c.jobsClient(ctx)
	if jc == nil {
		c.back(w, r, back, "error", note)
		return
	}
	run, err := jc.Stop(ctx, id)
	c.o.Logger.Warn("console action", "by", who, "action", "stop", "job", job, "run", id, "error", errText(err))
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		c.back(w, r, back, "error", notFound(job, id))
	case err != nil:
		c.back(w, r, back, "error", err.Error())
	case run.State.Terminal():
		c.back(w, r, back, "notice", "run "+id+" is "+string(run.State))
	default:
		c.back(w, r, back, "notice", "stop requested: the instance running "+id+" stops it")
	}
}
