package ncron

import (
	"strings"
	"testing"
	"time"
)

func TestParseErrorsNameTheField(t *testing.T) {
	for pattern, want := range map[string]string{
		"* * * * *":       "5 fields",
		"0 */5 * * * * *": "7 fields",
		"61 * * * * *":    "field 1 (seconds)",
		"0 0 25 * * *":    "field 3 (hours)",
		"0 0 0 0 * *":     "field 4 (day of month)",
		"0 0 0 * foo *":   "field 5 (month)",
		"0 0 0 * * 5-2":   "field 6 (day of week)",
		"0 0 0 31 feb *":  "no fire time",
		"0 */0 * * * *":   "step",
		"":                "0 fields",
	} {
		_, err := Parse(pattern)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want an error saying %q", pattern, err, want)
		}
	}
	if _, err := Parse("* * * * *"); err == nil || !strings.Contains(err.Error(), `"0 * * * * *"`) {
		t.Errorf("a 5-field pattern's error should show the 6-field one: %v", err)
	}
}

func TestNextAndPrev(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	at := func(s string, loc *time.Location) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		pattern   string
		loc       *time.Location
		from      string
		next, nxt string
	}{
		{"0 */5 * * * *", time.UTC, "2026-12-01 10:02:30", "2026-12-01 10:05:00", "2026-12-01 10:10:00"},
		{"* * * * * *", time.UTC, "2026-12-01 10:02:30", "2026-12-01 10:02:31", "2026-12-01 10:02:32"},
		{"30 0 9 * * mon-fri", ams, "2026-12-04 10:00:00", "2026-12-07 09:00:30", "2026-12-08 09:00:30"},
		{"@daily", ams, "2026-12-31 23:00:00", "2027-01-01 00:00:00", "2027-01-02 00:00:00"},
		{"0 0 0 29 feb *", time.UTC, "2026-03-01 00:00:00", "2028-02-29 00:00:00", "2032-02-29 00:00:00"},
	} {
		s, err := Parse(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		n1, err := s.Next(at(tc.from, tc.loc))
		if err != nil || !n1.Equal(at(tc.next, tc.loc)) {
			t.Errorf("%s: next after %s = %v, %v; want %s", tc.pattern, tc.from, n1, err, tc.next)
			continue
		}
		n2, _ := s.Next(n1)
		if !n2.Equal(at(tc.nxt, tc.loc)) {
			t.Errorf("%s: next after %v = %v; want %s", tc.pattern, n1, n2, tc.nxt)
		}
		if p, ok := s.Prev(n2); !ok || !p.Equal(n1) {
			t.Errorf("%s: prev of %v = %v %v; want %v", tc.pattern, n2, p, ok, n1)
		}
	}
}
