package queue

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
)

// A condition recurring four times a second for 70 s is logged once when
// it begins, with a count every 30 s, and once when it ends; another key's
// condition is kept apart.
func TestRepeatLogBoundsLines(t *testing.T) {
	buf := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "since" || a.Key == "after" {
			return slog.Attr{}
		}
		return a
	}}))
	var rs repeatLogs[int]
	t0 := time.Unix(1_000_000, 0)
	rs.occur(2, log, t0, "refused", "level", 2)
	for i := range 280 { // 70 s at 4 a second
		rs.occur(1, log, t0.Add(time.Duration(i)*250*time.Millisecond), "refused", "level", 1)
	}
	rs.end(1, log, "answered", "level")
	rs.end(1, log, "answered", "level") // already ended: nothing
	want := []string{
		`level=WARN msg=refused level=2 repeats="counted and reported every 30s"`,
		`level=WARN msg=refused level=1 repeats="counted and reported every 30s"`,
		`level=WARN msg="refused (repeated)" level=1 times=120`,
		`level=WARN msg="refused (repeated)" level=1 times=120`,
		`level=INFO msg=answered level=1 times=280`,
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(rs.m) != 1 {
		t.Fatalf("%d keys left; want level 2's only", len(rs.m))
	}
}
