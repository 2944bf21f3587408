package cronspec

import "time"

// A CRON spec names wall-clock times of its time zone, and daylight saving
// makes some wall-clock times happen twice (the hour repeated when clocks go
// back) and others not at all (the hour skipped when they go forward). The
// rules of Next, documented on tasks.CronSchedule:
//
//   - a repeated local time fires once, at its first occurrence;
//   - a skipped local time fires once, at the first valid instant after it
//     (the moment the clocks jumped), however many skipped times the spec
//     names.
//
// So the schedule is searched in wall-clock time (as if the zone were UTC,
// where no time repeats or is skipped), and each wall-clock fire time is
// then placed on the real time line by wallInstant.

// maxWallSteps bounds the search through wall-clock fire times that map to
// instants not after t: during the second pass of a repeated hour a
// per-second spec skips up to one such time per second of it.
const maxWallSteps = 1 << 17

// Next returns the first fire time strictly after t by cloudrole's
// daylight-saving rules, or the zero time if there is none within the
// parser's search limit (years).
func (s *Spec) Next(t time.Time) time.Time {
	w := asUTC(t.In(s.loc))
	for range maxWallSteps {
		fw := s.sched.Next(w)
		if fw.IsZero() {
			return fw
		}
		if at := wallInstant(fw, s.loc); at.After(t) {
			return at
		}
		w = fw
	}
	return time.Time{}
}

// asUTC returns the instant whose UTC wall clock reads what t's does.
func asUTC(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// sameWall reports whether t, in its own zone, reads wall (a UTC time).
func sameWall(t, wall time.Time) bool { return asUTC(t).Equal(wall) }

// wallInstant places the wall-clock time wall (read as UTC) in loc: its
// first occurrence if it repeats, the first valid instant after it if it
// was skipped.
func wallInstant(wall time.Time, loc *time.Location) time.Time {
	y, mo, d := wall.Date()
	h, mi, s := wall.Clock()
	at := time.Date(y, mo, d, h, mi, s, wall.Nanosecond(), loc)
	if !sameWall(at, wall) {
		// Skipped: Go normalised it to one side of the jump; the jump
		// itself is the boundary of the zone period it chose.
		start, end := at.ZoneBounds()
		if asUTC(at).Before(wall) {
			return end
		}
		return start
	}
	// Repeated? Then its first occurrence lies in the zone period before
	// the one Go chose, with that period's larger offset.
	start, _ := at.ZoneBounds()
	if start.IsZero() {
		return at
	}
	_, off := at.Zone()
	_, prevOff := start.Add(-time.Second).Zone()
	if prevOff <= off {
		return at
	}
	if twin := at.Add(-time.Duration(prevOff-off) * time.Second); twin.Before(start) && sameWall(twin, wall) {
		return twin
	}
	return at
}
