package cronspec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

// Form describes the accepted spec, for error messages.
const Form = `6 fields "second minute hour day month day-of-week", e.g. "0 */5 * * * *" for every 5 minutes`

// ErrNeverFires is wrapped by Parse for a spec with no fire time within
// the parser's search (years), such as the 31st of February.
var ErrNeverFires = errors.New("never fires")

// fields are the fields of a spec, in order, with the parser option that
// reads each alone and the range of its numbers.
var fields = [6]struct {
	name     string
	opt      cron.ParseOption
	min, max int
}{
	{"second", cron.Second, 0, 59}, {"minute", cron.Minute, 0, 59}, {"hour", cron.Hour, 0, 23},
	{"day", cron.Dom, 1, 31}, {"month", cron.Month, 1, 12}, {"day-of-week", cron.Dow, 0, 7},
}

// Spec is a parsed spec read in a time zone. Safe for concurrent use.
type Spec struct {
	text  string // as written, trimmed
	sched cron.Schedule
	loc   *time.Location
}

// Parse parses spec read in loc (UTC if nil). It refuses what NCRONTAB
// does not have — 5 or 7 fields (a 5-field crontab line gets a hint),
// descriptors such as "@daily", TZ= prefixes, empty list items, Quartz's
// L, W, # and H — and a spec with no fire time after now.
func Parse(spec string, loc *time.Location, now time.Time) (*Spec, error) {
	if loc == nil {
		loc = time.UTC
	}
	trimmed := strings.TrimSpace(spec)
	switch {
	case trimmed == "":
		return nil, fmt.Errorf("empty CRON spec; want %s", Form)
	case strings.HasPrefix(trimmed, "@"):
		return nil, fmt.Errorf("CRON spec %q: descriptors are not supported; want %s", spec, Form)
	case strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ="):
		return nil, fmt.Errorf("CRON spec %q: time zone prefixes are not supported, give the time zone separately; want %s", spec, Form)
	}
	written := strings.Fields(trimmed)
	if n := len(written); n != 6 {
		hint := ""
		if n == 5 {
			hint = fmt.Sprintf(` (a 5-field crontab line has no seconds field: prefix it with "0 ", as in %q)`, "0 "+strings.Join(written, " "))
		}
		return nil, fmt.Errorf("CRON spec %q has %d fields%s; want %s", spec, n, hint, Form)
	}
	// Names become numbers: the parser would read the H of THU as a
	// Jenkins hash expression.
	parts := append([]string(nil), written...)
	parts[4], parts[5] = numberNames(parts[4], monthNames), numberNames(parts[5], dayNames)
	// Each field alone first, to say which one is wrong.
	for i, f := range parts {
		err := checkField(f, fields[i].min, fields[i].max)
		if err == nil {
			_, err = cron.NewParser(fields[i].opt).Parse(f)
		}
		if err != nil {
			return nil, fmt.Errorf("CRON spec %q: %s field %q: %v; want %s", spec, fields[i].name, written[i], err, Form)
		}
	}
	sched, err := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow).Parse(strings.Join(parts, " "))
	if err != nil {
		return nil, fmt.Errorf("CRON spec %q: %v; want %s", spec, err, Form)
	}
	s := &Spec{text: trimmed, sched: sched, loc: loc}
	if s.Next(now).IsZero() {
		return nil, fmt.Errorf("CRON spec %q: %w", spec, ErrNeverFires)
	}
	return s, nil
}

// checkField refuses what the parser would accept or explain in its own
// terms: empty list items ("0,,1" silently meant "0,1"), and the Quartz
// extensions L, W, # and H, which NCRONTAB does not have (the parser's
// message names options a user cannot set), and a start out of range
// before a step ("60/4" in seconds), which the parser lets through and
// then never or wrongly fires.
func checkField(f string, lo, hi int) error {
	for _, item := range strings.Split(f, ",") {
		if item == "" {
			return errors.New("empty item in the list (a comma with nothing on one side)")
		}
		values, _, _ := strings.Cut(item, "/")
		for _, part := range strings.FieldsFunc(item, func(r rune) bool { return r == '-' || r == '/' }) {
			if strings.ContainsAny(strings.ToUpper(part), "LW#H") {
				return fmt.Errorf("%q is Quartz syntax (L last, W weekday, # nth weekday, H hash); NCRONTAB has none of it: list the days or weekdays instead", part)
			}
		}
		for _, part := range strings.Split(values, "-") {
			if n, err := strconv.Atoi(part); err == nil && (n < lo || n > hi) {
				return fmt.Errorf("%d is out of range: want %d to %d", n, lo, hi)
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

// Text returns the spec as written (trimmed).
func (s *Spec) Text() string { return s.text }

// Location returns the time zone the spec is read in.
func (s *Spec) Location() *time.Location { return s.loc }

// String returns the spec and, unless UTC, its time zone.
func (s *Spec) String() string {
	if s.loc == time.UTC {
		return s.text
	}
	return s.text + " (" + s.loc.String() + ")"
}
