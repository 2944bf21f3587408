package jobs

import (
	"context"
	"slices"
	"time"
)

// watchDir loads the jobs folder and then looks at it every ScanInterval,
// until ctx ends: new job folders are defined, changed ones redefined (a
// continuous job's run is stopped, cause ErrJobChanged, and started
// again; a triggered job's runs under way finish as they were), removed
// ones undefined. A folder that cannot be loaded keeps its last good
// definition, if it had one; its problem is logged once and shown in
// Status.
func (r *Runner) watchDir(ctx context.Context) {
	t := time.NewTicker(r.o.ScanInterval)
	defer t.Stop()
	for {
		r.reload()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// reload applies the jobs folder as it is now.
func (r *Runner) reload() {
	jobs, problems := LoadDir(r.o.Dir, r.o.Location)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	now := map[string]string{}
	for _, p := range problems {
		now[p.Path] = p.Error
		if r.problems[p.Path] != p.Error {
			r.log.Error("jobs: a job folder cannot be loaded", "folder", p.Path, "error", p.Error)
		}
	}
	loaded := map[string]Job{}
	for _, j := range jobs {
		loaded[j.Name] = j
	}
	for _, name := range r.namesLocked() {
		e := r.jobs[name]
		if e.job.folder == "" {
			continue
		}
		j, ok := loaded[name]
		switch {
		case ok && sameDefinition(e.job, j):
		case ok:
			r.log.Info("jobs: job folder changed; redefining the job", "job", name, "folder", j.folder)
			r.replaceLocked(e, j)
		case now[e.job.folder] != "":
			// Broken now: keep the last good definition.
		default:
			r.log.Info("jobs: job folder removed; the job is undefined here", "job", name, "folder", e.job.folder)
			r.removeLocked(name)
		}
	}
	for _, j := range jobs {
		e, ok := r.jobs[j.Name]
		switch {
		case !ok:
			r.log.Info("jobs: job folder found", "job", j.Name, "folder", j.folder, "kind", string(j.Kind))
			ne := &entry{job: j}
			r.jobs[j.Name] = ne
			r.activateLocked(ne)
		case e.job.folder == "":
			msg := "job " + j.Name + " is also defined by " + e.job.source + "; this folder is ignored"
			if r.problems[j.folder] != msg {
				r.log.Error("jobs: a job folder cannot be loaded", "folder", j.folder, "error", msg)
			}
			now[j.folder] = msg
		}
	}
	r.problems = now
}

// replaceLocked redefines e's job as j. A triggered job's new loops start
// at once (the old queue worker finishes the runs it has, which no other
// worker can claim); a continuous job's old run is stopped first.
func (r *Runner) replaceLocked(e *entry, j Job) {
	ne := &entry{job: j}
	r.jobs[j.Name] = ne
	if e.cancel == nil {
		r.activateLocked(ne)
		return
	}
	e.cancel(ErrJobChanged)
	if e.job.Kind == Triggered && j.Kind == Triggered {
		r.activateLocked(ne)
		return
	}
	done := e.done
	r.goLocked(func() {
		<-done
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.jobs[j.Name] == ne {
			r.activateLocked(ne)
		}
	})
}

// sameDefinition reports whether a folder job is unchanged.
func sameDefinition(a, b Job) bool {
	return a.Kind == b.Kind && slices.Equal(a.Command, b.Command) && a.Dir == b.Dir && a.CopyDir == b.CopyDir &&
		a.Schedule == b.Schedule && a.Singleton == b.Singleton && a.StoppingWait == b.StoppingWait && a.sum == b.sum
}
