package tasks

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func newYork(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	return loc
}

// fires lists the fire times of spec from from (exclusive) to to.
func fires(t *testing.T, spec string, loc *time.Location, from, to time.Time) []time.Time {
	t.Helper()
	s, err := ParseCron(spec, loc)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for f := s.Next(from); !f.IsZero() && f.Before(to); f = s.Next(f) {
		out = append(out, f)
	}
	return out
}

// On 1 November 2026 New York's clocks go back from 02:00 EDT to 01:00
// EST: 01:30 happens twice and must fire once, at its first occurrence.
func TestCronRepeatedLocalTimeFiresOnce(t *testing.T) {
	ny := newYork(t)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, ny)
	got := fires(t, "0 30 1 * * *", ny, day, day.Add(24*time.Hour))
	if len(got) != 1 {
		t.Fatalf("fired %d times on the fall-back day: %v", len(got), got)
	}
	if want := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC); !got[0].Equal(want) {
		t.Fatalf("fired at %v, want the first 01:30 (%v)", got[0], want.In(ny))
	}
	// Every 15 minutes through the repeated hour: 01:00, 01:15, 01:30 and
	// 01:45 once each, then 02:00 EST.
	got = fires(t, "0 */15 1-2 * * *", ny, day, day.Add(24*time.Hour))
	var walls []string
	for _, f := range got {
		walls = append(walls, f.Format("15:04 MST"))
	}
	if w := strings.Join(walls, " "); w != "01:00 EDT 01:15 EDT 01:30 EDT 01:45 EDT 02:00 EST 02:15 EST 02:30 EST 02:45 EST" {
		t.Fatalf("fall-back day fires %s", w)
	}
	// A start during the second pass of the hour does not fire its times
	// again.
	second := time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC) // 01:10 EST
	if f := fires(t, "0 30 1 * * *", ny, second, day.Add(24*time.Hour)); len(f) != 0 {
		t.Fatalf("fired again during the repeated hour: %v", f)
	}
}

// On 8 March 2026 New York's clocks jump from 02:00 EST to 03:00 EDT: a
// time in the skipped hour fires once, at 03:00 EDT.
func TestCronSkippedLocalTimeFiresAtTheJump(t *testing.T) {
	ny := newYork(t)
	day := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
	jump := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC) // 03:00 EDT
	got := fires(t, "0 30 2 * * *", ny, day, day.Add(24*time.Hour))
	if len(got) != 1 || !got[0].Equal(jump) {
		t.Fatalf("fires %v on the spring-forward day, want once at %v", got, jump.In(ny))
	}
	// Every 10 minutes of the skipped hour: once at the jump, not six times.
	got = fires(t, "0 */10 2 * * *", ny, day, day.Add(24*time.Hour))
	if len(got) != 1 || !got[0].Equal(jump) {
		t.Fatalf("fires %v, want once at %v", got, jump.In(ny))
	}
	// A spec that also names 03:00 fires once there.
	got = fires(t, "0 0 2,3 * * *", ny, day, day.Add(24*time.Hour))
	if len(got) != 1 || !got[0].Equal(jump) {
		t.Fatalf("fires %v, want once at %v", got, jump.In(ny))
	}
	// The next day is normal again.
	next := fires(t, "0 30 2 * * *", ny, day.Add(24*time.Hour), day.Add(48*time.Hour))
	if len(next) != 1 || next[0].Format("15:04 MST") != "02:30 EDT" {
		t.Fatalf("the day after fires %v", next)
	}
}

func TestParseCronRefusals(t *testing.T) {
	for spec, want := range map[string]string{
		"0,,1 * * * * *": "empty item",
		",1 * * * * *":   "empty item",
		"0 1, * * * *":   "empty item",
		"0 0 0 L * *":    "Quartz",
		"0 0 0 15W * *":  "Quartz",
		"0 0 0 * * 5#3":  "Quartz",
		"0 0 0 H * *":    "Quartz",
		"0 */5 * * *":    "5-field",
		"@daily":         "descriptors",
	} {
		_, err := ParseCron(spec, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want ErrInvalid mentioning %q", spec, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "option") {
			t.Errorf("%q: error %q names a parser option a user cannot set", spec, err)
		}
	}
	// Names containing L, W or H are still fine.
	for _, spec := range []string{"0 0 0 * JUL WED", "0 0 0 * * THU", "0 0 12 * * MON-FRI"} {
		if _, err := ParseCron(spec, nil); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
}

func TestCronScheduleUpcoming(t *testing.T) {
	s, err := ParseCron("0 */15 * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 10, 7, 0, 0, time.UTC)
	got := s.Upcoming(from, 3)
	want := []string{"10:15", "10:30", "10:45"}
	for i, f := range got {
		if f.Format("15:04") != want[i] {
			t.Fatalf("upcoming %v, want %v", got, want)
		}
	}
	if len(got) != 3 || s.String() != "0 */15 * * * *" {
		t.Fatalf("upcoming %v, String %q", got, s)
	}
}
