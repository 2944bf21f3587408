package queue

import (
	"context"
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

// A worker whose pulls are refused (its consumer is gone) logs it once,
// not at every poll, and logs once that its pulls are answered again.
func TestRefusedPullsLoggedOnce(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	q := testQueue(t, c, "rf", Config{Levels: 1})
	logs := &testutil.Buffer{}
	done := make(chan struct{}, 1)
	startWorker(t, ctx, q, func(context.Context, *Job) error {
		select {
		case done <- struct{}{}:
		default:
		}
		return nil
	}, WorkerOptions{PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})

	if err := c.js.DeleteConsumer(ctx, levelStream("rf", 0), consumerName("rf", 0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a refused pull", 10*time.Second, func() bool { return strings.Contains(logs.String(), "pull request refused") })
	// Every pull request is a message on the worker's connection: wait
	// for 20 more of them, each refused.
	sent := c.nc.Stats().OutMsgs
	waitFor(t, "20 more pull requests", 10*time.Second, func() bool { return c.nc.Stats().OutMsgs >= sent+20 })
	testQueue(t, c, "rf", Config{Levels: 1}) // the consumer again
	if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	recv(t, done, "the job after the consumer came back")
	if n := strings.Count(logs.String(), "pull request refused"); n != 1 {
		t.Fatalf("%d refused-pull lines for one outage of 20 pulls; want 1:\n%s", n, logs)
	}
	waitFor(t, "the recovery line", 10*time.Second, func() bool { return strings.Contains(logs.String(), "pull requests answered again") })
}
