package tasks

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseCron feeds arbitrary specs to the CRON wrapper: it must never
// panic or hang, must accept only 6-field specs, and an accepted spec must
// yield fire times strictly after the time asked and strictly increasing.
func FuzzParseCron(f *testing.F) {
	for _, seed := range []string{
		"0 */5 * * * *", "*/10 * * * * *", "0 0 9 * * MON-FRI", "0 30 2 29 2 *",
		"0 0 0 31 4 *", "0 0 * * * 7", "1-59/0 * * * * *", "0 0 0 * * 1#3",
		"* * * * *", "@every 1s", "TZ=UTC 0 * * * * *", "60 * * * * *",
		"0 0 0 L * *", "0 0 0 ? * *", "0 0 0 1,15 JAN,JUL *", "\x00 * * * * *",
		"0 0 0 1 1 * 2030", "-1 * * * * *", "0-0 0-0 0-0 1-1 1-1 0-0",
		"0 0 12 */2 * 5-3", strings.Repeat("1,", 200) + "1 * * * * *",
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 11, 24, 6, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		cs, err := parseCron(spec, time.UTC, now)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("spec %q: empty error", spec)
			}
			return
		}
		if n := len(strings.Fields(spec)); n != 6 {
			t.Fatalf("spec %q with %d fields was accepted", spec, n)
		}
		first := cs.next(now)
		if !first.After(now) {
			t.Fatalf("spec %q: next(%v) = %v, not after", spec, now, first)
		}
		if second := cs.next(first); !second.IsZero() && !second.After(first) {
			t.Fatalf("spec %q: fire times not increasing: %v then %v", spec, first, second)
		}
	})
}
