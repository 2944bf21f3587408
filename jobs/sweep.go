package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
)

// sweep runs, while ctx lasts, the fleet's one sweeper (a singleton task on
// the lease "jobs.sweeper"): it records Failed every run whose record has
// stayed Running and unchanged for FailAfter — its instance was killed,
// crashed or lost NATS, and its runner would have rewritten the record
// every heartbeat. Silence is measured on the sweeper's own clock between
// two reads of the same revision, so clocks of other machines do not
// matter; after a sweeper starts, it takes FailAfter to fail a run.
func (r *Runner) sweep(ctx context.Context) {
	conn := r.connection()
	every := max(r.o.FailAfter/4, 10*time.Millisecond)
	g := tasks.NewGroup(ctx, tasks.Options{Name: "jobs-sweeper", Logger: r.log, MaxRestarts: -1, Instance: r.o.Instance})
	sw := &sweeper{r: r, conn: conn, seen: map[string]sighting{}}
	ttl := max(3*every, 3*time.Second)
	if err := g.Periodic("sweeper", every, sw.pass,
		tasks.Singleton(conn.locker, tasks.LockName(lockPrefix+"sweeper"), tasks.LeaseTTL(ttl), tasks.AcquireInterval(every))); err != nil {
		r.log.Error("jobs: cannot start the sweeper", "error", err.Error())
	}
	<-ctx.Done()
	_ = g.Wait()
}

// sweeper remembers when it first saw each Running record's revision.
type sweeper struct {
	r    *Runner
	conn *connection
	seen map[string]sighting // by run ID; only the sweeper's goroutine uses it
}

type sighting struct {
	rev uint64
	at  time.Time
}

func (sw *sweeper) pass(ctx context.Context) error {
	now := time.Now()
	var stale []record
	live := map[string]bool{}
	err := sw.conn.st.scan(ctx, keyRun+">", func(rec record) {
		if rec.State != Running {
			return
		}
		live[rec.ID] = true
		s, ok := sw.seen[rec.ID]
		switch {
		case !ok || s.rev != rec.rev:
			sw.seen[rec.ID] = sighting{rev: rec.rev, at: now}
		case now.Sub(s.at) >= sw.r.o.FailAfter:
			stale = append(stale, rec)
		}
	})
	if err != nil {
		return err
	}
	for id := range sw.seen {
		if !live[id] {
			delete(sw.seen, id)
		}
	}
	for _, rec := range stale {
		sw.fail(ctx, rec)
		delete(sw.seen, rec.ID)
	}
	return nil
}

// fail records a silent run Failed (Stopped if a stop was requested), if
// its record is still the revision that went silent.
func (sw *sweeper) fail(ctx context.Context, rec record) {
	run := rec.Run
	silent := time.Since(rec.UpdatedAt).Round(time.Second)
	run.EndedAt = time.Now().UTC()
	run.State = Failed
	run.Error = fmt.Sprintf("the instance %s stopped answering (killed, crashed or cut off from NATS): no heartbeat for %v, Disconnected since %s",
		rec.Instance, silent, rec.UpdatedAt.Add(disconnectedAfter(time.Duration(rec.Heartbeat))).UTC().Format(time.RFC3339))
	if rec.StopRequested {
		run.State = Stopped
		run.Error = "stopped on request; " + run.Error
	}
	_, err := sw.conn.st.update(ctx, run, rec.rev)
	switch {
	case errors.Is(err, errConflict):
		return // it spoke again, or someone else ended it
	case err != nil:
		sw.r.log.Warn("jobs: cannot record a vanished run", "run", rec.ID, "error", err.Error())
		return
	}
	sw.r.log.Warn("jobs: a run's instance vanished; run recorded "+string(run.State), "run", rec.ID, "instance", rec.Instance, "silent", silent.String())
	sw.r.prune(ctx, sw.conn, rec.Job, nil)
}
