package cronspec

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 1, 10, 2, 30, 0, time.UTC)

// Errors name the wrong field and show the form; a 5-field line gets the
// 6-field spec it probably meant.
func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":                   "empty CRON spec",
		"* * * * *":          `prefix it with "0 ", as in "0 * * * * *"`,
		"0 */5 * * * * *":    "has 7 fields",
		"61 * * * * *":       `second field "61"`,
		"159/4 * * * * *":    `second field "159/4": 159 is out of range: want 0 to 59`,
		"0 60/4 * * * *":     `minute field "60/4"`,
		"0 0 25 * * *":       `hour field "25"`,
		"0 0 0 0 * *":        `day field "0"`,
		"0 0 0 * foo *":      `month field "foo"`,
		"0 0 0 * * 1#3":      "Quartz syntax",
		"0 0 0 1,,2 * *":     "empty item",
		"@daily":             "descriptors are not supported",
		"TZ=UTC 0 * * * * *": "time zone prefixes",
	} {
		_, err := Parse(spec, nil, now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", spec, err, want)
		}
	}
	if _, err := Parse("0 0 0 31 2 *", nil, now); !errors.Is(err, ErrNeverFires) {
		t.Errorf("the 31st of February: %v; want ErrNeverFires", err)
	}
}

// Next and ServerNext agree away from daylight-saving changes, names work
// in any case, and ServerPrev walks back to the fire before.
func TestNextServerNextServerPrev(t *testing.T) {
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
		spec         string
		loc          *time.Location
		from, n1, n2 string
	}{
		{"0 */5 * * * *", time.UTC, "2026-12-01 10:02:30", "2026-12-01 10:05:00", "2026-12-01 10:10:00"},
		{"* * * * * *", time.UTC, "2026-12-01 10:02:30", "2026-12-01 10:02:31", "2026-12-01 10:02:32"},
		{"30 0 9 * * mon-FRI", ams, "2026-12-04 10:00:00", "2026-12-07 09:00:30", "2026-12-08 09:00:30"},
		{"0 0 0 29 feb *", time.UTC, "2026-03-01 00:00:00", "2028-02-29 00:00:00", "2032-02-29 00:00:00"},
	} {
		s, err := Parse(tc.spec, tc.loc, now)
		if err != nil {
			t.Fatal(err)
		}
		from, n1, n2 := at(tc.from, tc.loc), at(tc.n1, tc.loc), at(tc.n2, tc.loc)
		if got := s.Next(from); !got.Equal(n1) {
			t.Errorf("%s: Next(%v) = %v; want %v", tc.spec, from, got, n1)
		}
		if got := s.ServerNext(from); !got.Equal(n1) {
			t.Errorf("%s: ServerNext(%v) = %v; want %v", tc.spec, from, got, n1)
		}
		if got := s.ServerNext(n1); !got.Equal(n2) {
			t.Errorf("%s: ServerNext(%v) = %v; want %v", tc.spec, n1, got, n2)
		}
		if got, ok := s.ServerPrev(n2); !ok || !got.Equal(n1) {
			t.Errorf("%s: ServerPrev(%v) = %v, %v; want %v", tc.spec, n2, got, ok, n1)
		}
	}
}
