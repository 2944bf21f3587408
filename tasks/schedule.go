package tasks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

// cronForm describes the accepted CRON spec, for error messages.
const cronForm = `6 fields "second minute hour day month day-of-week", e.g. "0 */5 * * * *" for every 5 minutes`

// cronFields are the fields of a spec, in order.
var cronFields = [6]struct {
	name string
	opt  cron.ParseOption
}{
	{"second", cron.Second}, {"minute", cron.Minute}, {"hour", cron.Hour},
	{"day", cron.Dom}, {"month", cron.Month}, {"day-of-week", cron.Dow},
}

// cronSchedule is a parsed NCRONTAB spec and how to follow it.
type cronSchedule struct {
	spec       string
	sched      cron.Schedule
	loc        *time.Location
	misfire    MisfirePolicy
	runOnStart bool
}

// parseCron parses a 6-field NCRONTAB spec read in loc (UTC if nil). It
// rejects what NCRONTAB does not have (5 or 7 fields, descriptors, TZ=
// prefixes) and specs that never fire, with an error showing the form.
func parseCron(spec string, loc *time.Location, now time.Time) (*cronSchedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	trimmed := strings.TrimSpace(spec)
	switch {
	case trimmed == "":
		return nil, fmt.Errorf("empty CRON spec; want %s", cronForm)
	case strings.HasPrefix(trimmed, "@"):
		return nil, fmt.Errorf("CRON spec %q: descriptors are not supported; want %s", spec, cronForm)
	case strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ="):
		return nil, fmt.Errorf("CRON spec %q: time zone prefixes are not supported, use the Location option; want %s", spec, cronForm)
	}
	fields := strings.Fields(trimmed)
	if n := len(fields); n != 6 {
		hint := ""
		if n == 5 {
			hint = ` (a 5-field crontab line has no seconds field: prefix it with "0 ")`
		}
		return nil, fmt.Errorf("CRON spec %q has %d fields%s; want %s", spec, n, hint, cronForm)
	}
	// Names become numbers: the parser reads the H of THU as a Jenkins
	// hash expression.
	written := append([]string(nil), fields...)
	fields[4], fields[5] = numberNames(fields[4], monthNames), numberNames(fields[5], dayNames)
	// Parse each field alone first, to say which one is wrong.
	for i, f := range fields {
		err := checkCronField(f)
		if err == nil {
			_, err = cron.NewParser(cronFields[i].opt).Parse(f)
		}
		if err != nil {
			return nil, fmt.Errorf("CRON spec %q: %s field %q: %v; want %s", spec, cronFields[i].name, written[i], err, cronForm)
		}
	}
	p := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	sched, err := p.Parse(strings.Join(fields, " "))
	if err != nil {
		return nil, fmt.Errorf("CRON spec %q: %v; want %s", spec, err, cronForm)
	}
	cs := &cronSchedule{spec: trimmed, sched: sched, loc: loc}
	if cs.next(now).IsZero() {
		return nil, fmt.Errorf("CRON spec %q never fires", spec)
	}
	return cs, nil
}

// checkCronField refuses what the parser would accept or explain in its
// own terms: empty list items ("0,,1" silently meant "0,1"), and the
// Quartz extensions L, W, # and H, which NCRONTAB does not have (the
// parser's message names options a user cannot set).
func checkCronField(f string) error {
	for _, item := range strings.Split(f, ",") {
		if item == "" {
			return fmt.Errorf("empty item in the list (a comma with nothing on one side)")
		}
		for _, part := range strings.FieldsFunc(item, func(r rune) bool { return r == '-' || r == '/' }) {
			if strings.ContainsAny(strings.ToUpper(part), "LW#H") {
				return fmt.Errorf("%q is Quartz syntax (L last, W weekday, # nth weekday, H hash); NCRONTAB has none of it: list the days or weekdays instead", part)
			}
		}
	}
	return nil
}

// Month and weekday names a field may use, by number.
var (
	monthNames = []string{"", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// numberNames replaces the names in field (any case) by their numbers.
func numberNames(field string, names []string) string {
	up := strings.ToUpper(field)
	for n, name := range names {
		if name != "" {
			up = strings.ReplaceAll(up, name, strconv.Itoa(n))
		}
	}
	return up
}

// String returns the spec and, unless UTC, its time zone.
func (c *cronSchedule) String() string {
	if c.loc == time.UTC {
		return c.spec
	}
	return c.spec + " (" + c.loc.String() + ")"
}

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
				g.log.Warn("CRON schedule has no further fire time; stopping", "task", t.name, "spec", c.spec)
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
