package tasks

import (
	"fmt"
	"time"
)

// CronSchedule is a parsed NCRONTAB spec: six fields "second minute hour
// day month day-of-week", as WebJobs and Azure Functions read them, in a
// time zone. It is what a Cron task follows; parse one to check a spec or
// to preview its fire times. Safe for concurrent use.
//
// Daylight saving: a spec names wall-clock times of its zone. A local time
// that happens twice (clocks going back) fires once, at its first
// occurrence; a local time that does not happen (clocks going forward)
// fires once, at the first valid instant after it — the moment of the
// jump — however many skipped times the spec names. In America/New_York
// in 2026, "0 30 1 * * *" fires once on 1 November (at 01:30 EDT), and
// "0 30 2 * * *" fires at 03:00 EDT on 8 March.
type CronSchedule struct{ c *cronSchedule }

// ParseCron parses spec read in loc (UTC if nil). Errors name the field
// that is wrong and show the expected form; a 5-field crontab line, a
// descriptor such as "@daily", an empty list item, Quartz extensions (L,
// W, #, H) and a spec that never fires are refused.
func ParseCron(spec string, loc *time.Location) (*CronSchedule, error) {
	c, err := parseCron(spec, loc, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &CronSchedule{c: c}, nil
}

// Next returns the first fire time strictly after t, in the schedule's
// time zone, or the zero time if there is none within five years.
func (s *CronSchedule) Next(t time.Time) time.Time {
	n := s.c.next(t)
	if n.IsZero() {
		return n
	}
	return n.In(s.c.Location())
}

// Upcoming returns the next n fire times after t (fewer if the schedule
// ends).
func (s *CronSchedule) Upcoming(t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, max(n, 0))
	for range n {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// Location returns the time zone the spec is read in.
func (s *CronSchedule) Location() *time.Location { return s.c.Location() }

// String returns the spec and, unless UTC, its time zone.
func (s *CronSchedule) String() string { return s.c.String() }
