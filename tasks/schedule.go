package tasks

import (
	"context"
	"time"

	"github.com/cloudrole/cloudrole/internal/cronspec"
)

// cronSchedule is a parsed NCRONTAB spec and how to follow it.
type cronSchedule struct {
	*cronspec.Spec
	misfire    MisfirePolicy
	runOnStart bool
}

// parseCron parses a 6-field NCRONTAB spec read in loc (UTC if nil); see
// cronspec.Parse for what it refuses.
func parseCron(spec string, loc *time.Location, now time.Time) (*cronSchedule, error) {
	s, err := cronspec.Parse(spec, loc, now)
	if err != nil {
		return nil, err
	}
	return &cronSchedule{Spec: s}, nil
}

// next is the first fire time strictly after t (zero if none).
func (c *cronSchedule) next(t time.Time) time.Time { return c.Next(t) }

// loopPeriodic runs fn, waits interval after it returned, and so on.
func (t *task) loopPeriodic() {
	g := t.g
	for {
		ctx, ok := t.hold()
		if !ok {
			return
		}
		if !t.runScheduled(ctx) {
			return
		}
		if ctx.Err() != nil {
			continue
		}
		t.setState(StateScheduled, g.s.clock.Now().Add(t.interval))
		if !t.sleep(ctx, t.interval) && g.ctx.Err() != nil {
			return
		}
	}
}

// loopCron runs fn at the fire times of its schedule, never overlapping,
// handling missed fire times per its misfire policy.
func (t *task) loopCron() {
	g := t.g
	c := t.cron
	var (
		held   context.Context // the context the schedule was started under
		served time.Time       // the fire time (or decision time) last served
	)
	for {
		ctx, ok := t.hold()
		if !ok {
			return
		}
		now := g.s.clock.Now()
		runNow := false
		if ctx != held {
			// Started, or (re)acquired the lock: fire times before now
			// were not ours to run.
			held, served, runNow = ctx, now, c.runOnStart
		}
		if !runNow {
			f := c.next(served)
			if f.IsZero() {
				g.log.Warn("CRON schedule has no further fire time; stopping", "task", t.name, "spec", c.Text())
				return
			}
			missed := f.Before(now) // passed while the previous run ran
			if f.After(now) {
				t.setState(StateScheduled, f)
				if !t.sleep(ctx, f.Sub(now)) {
					if g.ctx.Err() != nil {
						return
					}
					continue
				}
				now = g.s.clock.Now()
				// Woken so late that the following fire time passed too.
				missed = !c.next(f).After(now)
			}
			if missed {
				t.misfired(f)
				served = now
				if c.misfire == Skip {
					continue
				}
			} else {
				served = f
			}
		}
		if !t.runScheduled(ctx) {
			return
		}
	}
}

// runScheduled runs a periodic or CRON task once; it returns false if the
// task must stop (the group ended or the run escalated).
func (t *task) runScheduled(ctx context.Context) bool {
	_, err := t.run(ctx)
	if t.g.ctx.Err() != nil || t.escalated(err) {
		return false
	}
	if err != nil && ctx.Err() == nil {
		t.mu.Lock()
		t.restartCount++
		t.mu.Unlock()
		if t.countRestart(err) {
			return false
		}
	}
	return true
}

// misfired records and reports that fire time f (and maybe later ones)
// passed without a run.
func (t *task) misfired(f time.Time) {
	g := t.g
	t.mu.Lock()
	t.misfires++
	t.mu.Unlock()
	g.log.Warn("CRON task missed a fire time", "task", t.name, "missed", f, "policy", t.cron.misfire)
	g.emit(EventMisfire{Group: g.s.name, Task: t.name, Missed: f, Policy: t.cron.misfire})
}
