package jobs

import (
	"context"
	"time"
)

// defTTL is how long a published definition outlives its last refresh.
func (r *Runner) defTTL() time.Duration { return max(6*r.o.Heartbeat, 3*time.Second) }

// publishDefs publishes the definitions of this runner's jobs at once and
// then every two heartbeats, until ctx ends: a definition lives while some
// instance has the job, and expires (by a per-key TTL on the server) after
// the last one stopped.
func (r *Runner) publishDefs(ctx context.Context) {
	t := time.NewTicker(2 * r.o.Heartbeat)
	defer t.Stop()
	for {
		r.mu.Lock()
		conn := r.conn
		defs := make([]Definition, 0, len(r.jobs))
		for _, name := range r.namesLocked() {
			defs = append(defs, definitionOf(&r.jobs[name].job, r.o.Instance))
		}
		r.mu.Unlock()
		for _, d := range defs {
			if err := conn.st.publishDef(ctx, d, r.defTTL()); err != nil && ctx.Err() == nil {
				r.log.Warn("jobs: definition not published", "job", d.Name, "error", err.Error())
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// publishDefLocked publishes one definition now, for a job added while
// connected.
func (r *Runner) publishDefLocked(j Job) {
	conn, d := r.conn, definitionOf(&j, r.o.Instance)
	r.goLocked(func() {
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		if err := conn.st.publishDef(ctx, d, r.defTTL()); err != nil && r.ctx.Err() == nil {
			r.log.Warn("jobs: definition not published", "job", d.Name, "error", err.Error())
		}
	})
}
