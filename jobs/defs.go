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
			e := r.jobs[name]
			if e.ready == nil {
				continue
			}
			select {
			case <-e.ready: // announced; refreshed here
				defs = append(defs, definitionOf(&e.job, r.o.Instance))
			default: // not up yet: announce publishes it
			}
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

// announce publishes one definition now, once the job's loops are up.
func (r *Runner) announce(ctx context.Context, j Job) {
	conn, d := r.connection(), definitionOf(&j, r.o.Instance)
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.st.publishDef(actx, d, r.defTTL()); err != nil && ctx.Err() == nil {
		r.log.Warn("jobs: definition not published", "job", d.Name, "error", err.Error())
	}
}
