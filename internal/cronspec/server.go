package cronspec

import (
	"time"

	cron "github.com/netresearch/go-cron"
)

// ServerNext returns the first fire time strictly after t as nats-server's
// message scheduler finds it: a search in the spec's zone's own time, as
// robfig/cron searches (go-cron descends from it, as the server's does), or
// the zero time if there is none. It may differ from Next only within an
// hour a daylight-saving change repeats or skips.
func (s *Spec) ServerNext(t time.Time) time.Time {
	return s.sched.Next(t.In(s.loc))
}

// ServerPrev returns the last fire time strictly before t by the same
// search (the fire a server-fired message stands for, given the next fire
// time the message names), or false if there is none.
func (s *Spec) ServerPrev(t time.Time) (time.Time, bool) {
	p, ok := s.sched.(interface{ Prev(time.Time) time.Time })
	if !ok {
		return time.Time{}, false
	}
	prev := p.Prev(t.In(s.loc))
	return prev, !prev.IsZero()
}

// The spec parser's schedule must be able to search backwards.
var _ interface{ Prev(time.Time) time.Time } = (*cron.SpecSchedule)(nil)
