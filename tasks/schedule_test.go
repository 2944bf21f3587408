package tasks_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the Location test must not depend on the machine's zoneinfo

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
)

// A periodic task whose run outlasts its interval never runs twice at once,
// and waits the whole interval after each run returned.
func TestPeriodicNeverOverlaps(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk})
	var active, maxActive atomic.Int64
	started := make(chan time.Time)
	release := make(chan struct{})
	mustAdd(t, g.Periodic("flush", 10*time.Second, func(ctx context.Context) error {
		n := active.Add(1)
		if n > maxActive.Load() {
			maxActive.Store(n)
		}
		defer active.Add(-1)
		started <- clk.Now()
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}))

	if at := recv(t, started, "first run"); !at.Equal(t0) {
		t.Fatalf("first run at %v; want at once (%v)", at, t0)
	}
	// The run takes three intervals: no other run may start meanwhile.
	clk.Advance(30 * time.Second)
	select {
	case at := <-started:
		t.Fatalf("a second run started at %v while the first was running", at)
	default:
	}
	send(t, release, struct{}{}, "end of run 1")
	end := clk.Now()

	block(t, clk, 1) // the interval timer
	if st := taskStatus(t, g, "flush"); st.State != tasks.StateScheduled || !st.NextRun.Equal(end.Add(10*time.Second)) || st.Schedule != "10s" {
		t.Fatalf("status %+v; want scheduled 10s after the run ended", st)
	}
	clk.Advance(9 * time.Second)
	if st := taskStatus(t, g, "flush"); st.Runs != 1 {
		t.Fatalf("ran again before the interval passed: %+v", st)
	}
	clk.Advance(time.Second)
	if at := recv(t, started, "second run"); !at.Equal(end.Add(10 * time.Second)) {
		t.Fatalf("second run at %v; want %v", at, end.Add(10*time.Second))
	}
	send(t, release, struct{}{}, "end of run 2")
	if maxActive.Load() != 1 {
		t.Fatalf("%d runs at once", maxActive.Load())
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// A failed periodic run is reported, counted, and the schedule goes on.
func TestPeriodicFailureKeepsSchedule(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})
	runs := make(chan int)
	n := 0
	mustAdd(t, g.Periodic("sync", time.Minute, func(context.Context) error {
		n++
		runs <- n
		if n == 1 {
			panic("bad data")
		}
		return errors.New("remote down")
	}))
	recv(t, runs, "run 1")
	block(t, clk, 1)
	clk.Advance(time.Minute)
	recv(t, runs, "run 2")
	block(t, clk, 1)
	st := taskStatus(t, g, "sync")
	if st.Restarts != 2 || st.LastError != "remote down" || !strings.Contains(st.LastPanic, "bad data") || st.State != tasks.StateScheduled {
		t.Fatalf("status %+v; want 2 failed runs counted, last error and panic recorded, still scheduled", st)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// A CRON task fires at exactly the seconds its spec names.
func TestCronFiresOnSchedule(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0) // 00:00:03
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk})
	fired := make(chan time.Time)
	mustAdd(t, g.Cron("tick", "*/15 * * * * *", func(context.Context) error {
		fired <- clk.Now()
		return nil
	}))
	for i, want := range []string{"00:00:15", "00:00:30", "00:00:45", "00:01:00", "00:01:15"} {
		block(t, clk, 1)
		st := taskStatus(t, g, "tick")
		if got := st.NextRun.Format(time.TimeOnly); got != want || st.State != tasks.StateScheduled || st.Runs != int64(i) {
			t.Fatalf("status %+v; want scheduled for %s after %d runs", st, want, i)
		}
		clk.Advance(clk.Until(st.NextRun) - time.Nanosecond)
		if st := taskStatus(t, g, "tick"); st.Runs != int64(i) || st.State != tasks.StateScheduled {
			t.Fatalf("fired early: %+v", st)
		}
		clk.Advance(time.Nanosecond)
		if got := recv(t, fired, "fire").Format(time.TimeOnly); got != want {
			t.Fatalf("fired at %s; want %s", got, want)
		}
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// The spec is read in UTC unless Location says otherwise, DST included.
func TestCronLocation(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		start time.Time
		opts  []tasks.Option
		want  time.Time
	}{
		{"utc-default", t0, nil, time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)},
		{"new-york-winter", t0, []tasks.Option{tasks.Location(ny)}, time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC)},
		{"new-york-summer", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), []tasks.Option{tasks.Location(ny)}, time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := clockwork.NewFakeClockAt(c.start)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := tasks.NewGroup(ctx, tasks.Options{Clock: clk})
			fired := make(chan time.Time)
			mustAdd(t, g.Cron("daily", "0 0 9 * * *", func(context.Context) error {
				fired <- clk.Now()
				return nil
			}, c.opts...))
			block(t, clk, 1)
			if st := taskStatus(t, g, "daily"); !st.NextRun.Equal(c.want) {
				t.Fatalf("next run %v; want %v", st.NextRun, c.want)
			}
			clk.Advance(clk.Until(c.want))
			if got := recv(t, fired, "fire"); !got.Equal(c.want) {
				t.Fatalf("fired at %v; want %v", got, c.want)
			}
			cancel()
			if err := wait(t, g); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// RunOnStart runs at once, then follows the schedule.
func TestCronRunOnStart(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk})
	fired := make(chan time.Time)
	mustAdd(t, g.Cron("warm", "0 * * * * *", func(context.Context) error {
		fired <- clk.Now()
		return nil
	}, tasks.RunOnStart()))
	if got := recv(t, fired, "run on start"); !got.Equal(t0) {
		t.Fatalf("first run at %v; want at start %v", got, t0)
	}
	block(t, clk, 1)
	clk.Advance(57 * time.Second)
	if got := recv(t, fired, "scheduled run"); got.Format(time.TimeOnly) != "00:01:00" {
		t.Fatalf("second run at %v; want 00:01:00", got)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// Fire times missed while a run overran, or while the task slept through
// them, are skipped or run once, as the misfire policy says.
func TestCronMisfire(t *testing.T) {
	type step struct {
		runs    []string // times (HH:MM:SS) of the runs that follow at once
		nextRun string   // then the task waits for this fire time
	}
	cases := []struct {
		policy tasks.MisfirePolicy
		// after an overrun: the run at :10 lasts until :35 (:20 and :30 missed)
		overrun step
		// after a jump: the clock jumps from :40 waiting to 01:03
		jump step
	}{
		{tasks.Skip, step{nil, "00:00:40"}, step{nil, "00:01:10"}},
		{tasks.RunOnce, step{[]string{"00:00:35"}, "00:00:40"}, step{[]string{"00:01:03"}, "00:01:10"}},
	}
	for _, c := range cases {
		t.Run(c.policy.String(), func(t *testing.T) {
			clk := clockwork.NewFakeClockAt(t0) // 00:00:03
			ev := newEvents()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})
			fired := make(chan time.Time)
			release := make(chan struct{})
			var active atomic.Int64
			mustAdd(t, g.Cron("report", "*/10 * * * * *", func(context.Context) error {
				if active.Add(1) != 1 {
					t.Error("runs overlap")
				}
				defer active.Add(-1)
				fired <- clk.Now()
				<-release
				return nil
			}, tasks.Misfire(c.policy)))

			expect := func(s step, missed string, misfires int) {
				t.Helper()
				for _, want := range s.runs {
					if got := recv(t, fired, "run").Format(time.TimeOnly); got != want {
						t.Fatalf("ran at %s; want %s", got, want)
					}
					send(t, release, struct{}{}, "end of run")
				}
				block(t, clk, 1)
				st := taskStatus(t, g, "report")
				if got := st.NextRun.Format(time.TimeOnly); got != s.nextRun || st.Misfires != misfires {
					t.Fatalf("status %+v; want next run %s after %d misfires", st, s.nextRun, misfires)
				}
				m := waitEvents[tasks.EventMisfire](t, ev, "report", misfires)[misfires-1]
				if got := m.Missed.Format(time.TimeOnly); got != missed || m.Policy != c.policy {
					t.Fatalf("misfire event %+v; want %s missed, policy %v", m, missed, c.policy)
				}
			}

			block(t, clk, 1)
			clk.Advance(7 * time.Second) // 00:00:10
			recv(t, fired, "run at :10")
			clk.Advance(25 * time.Second) // 00:00:35, still running
			send(t, release, struct{}{}, "end of the long run")
			expect(c.overrun, "00:00:20", 1)

			// Waiting for :40, the clock jumps to 01:03: :40 fires late, and
			// :50 and 01:00 passed too.
			clk.Advance(28 * time.Second)
			expect(c.jump, "00:00:40", 2)

			cancel()
			if err := wait(t, g); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Malformed specs and misapplied options are rejected when the task is
// added, with an error that says what is wrong and shows the expected form.
func TestAddRejectsBadInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A rejected task ends its group (below), so each case gets its own.
	var g *tasks.Group
	nop := func(context.Context) error { return nil }
	form := `want 6 fields "second minute hour day month day-of-week", e.g. "0 */5 * * * *"`
	cases := []struct {
		name string
		add  func() error
		want []string
	}{
		{"five fields", func() error { return g.Cron("c", "*/5 * * * *", nop) },
			[]string{`Cron "c"`, `"*/5 * * * *" has 5 fields`, `prefix it with "0 "`, form}},
		{"garbage", func() error { return g.Cron("c", "every five minutes", nop) },
			[]string{`has 3 fields`, form}},
		{"out of range", func() error { return g.Cron("c", "0 61 * * * *", nop) },
			[]string{`"0 61 * * * *": minute field "61"`, "out of range: want 0 to 59", form}},
		{"bad token", func() error { return g.Cron("c", "0 */x * * * *", nop) },
			[]string{`"0 */x * * * *"`, form}},
		{"seven fields", func() error { return g.Cron("c", "0 0 0 * * * 2026", nop) },
			[]string{"has 7 fields", form}},
		{"descriptor", func() error { return g.Cron("c", "@hourly", nop) },
			[]string{"descriptors are not supported", form}},
		{"tz prefix", func() error { return g.Cron("c", "TZ=UTC 0 * * * * *", nop) },
			[]string{"give the time zone separately", form}},
		{"empty", func() error { return g.Cron("c", "  ", nop) },
			[]string{"empty CRON spec", form}},
		{"never fires", func() error { return g.Cron("c", "0 0 0 30 2 *", nop) },
			[]string{"never fires"}},
		{"empty name", func() error { return g.Go("", nop) }, []string{"empty name"}},
		{"nil function", func() error { return g.Go("f", nil) }, []string{`Go "f": nil function`}},
		{"zero interval", func() error { return g.Periodic("p", 0, nop) }, []string{"want a positive interval"}},
		{"restart on periodic", func() error { return g.Periodic("p", time.Second, nop, tasks.Restart(tasks.Never)) },
			[]string{`Periodic "p"`, "option Restart applies to Go tasks only"}},
		{"location on go", func() error { return g.Go("g", nop, tasks.Location(time.UTC)) },
			[]string{"option Location applies to Cron tasks only"}},
		{"bad backoff", func() error { return g.Go("g", nop, tasks.Backoff(time.Second, time.Millisecond)) },
			[]string{"want 0 <= base <= max"}},
		{"bad stall", func() error { return g.Go("g", nop, tasks.StallAfter(0)) }, []string{"want a positive limit"}},
		{"nil locker", func() error { return g.Go("g", nop, tasks.Singleton(nil)) }, []string{"nil Locker"}},
		{"short ttl", func() error {
			return g.Go("g", nop, tasks.Singleton(tasks.NewLocalLocker(nil), tasks.LeaseTTL(time.Millisecond)))
		}, []string{"LeaseTTL(1ms)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g = tasks.NewGroup(ctx, tasks.Options{})
			err := c.add()
			if !errors.Is(err, tasks.ErrInvalid) {
				t.Fatalf("error %v; want ErrInvalid", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	g = tasks.NewGroup(ctx, tasks.Options{})
	mustAdd(t, g.Go("dup", func(ctx context.Context) error { <-ctx.Done(); return nil }))
	if err := g.Go("dup", nop); !errors.Is(err, tasks.ErrInvalid) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate name: %v", err)
	}
	if got := len(g.Status().Tasks); got != 1 {
		t.Fatalf("%d tasks in the group; rejected tasks must not be added", got)
	}
	// The rejection ended the group: code that ignored the error learns of
	// it from Wait.
	var fe *tasks.FatalError
	if err := wait(t, g); !errors.As(err, &fe) || fe.Task != "dup" || !errors.Is(err, tasks.ErrInvalid) || !strings.Contains(err.Error(), "not added") {
		t.Fatalf("Wait after a rejected task = %v; want a *FatalError naming it", err)
	}
}

// The README's mistake: a 5-field spec whose error is ignored. The task
// does not exist, and Wait says so instead of running without it.
func TestIgnoredRegistrationErrorEndsTheGroup(t *testing.T) {
	g := tasks.NewGroup(context.Background(), tasks.Options{})
	_ = g.Cron("report", "*/5 * * * *", func(context.Context) error { return nil })
	err := wait(t, g)
	if !errors.Is(err, tasks.ErrInvalid) || !strings.Contains(err.Error(), `task "report"`) || !strings.Contains(err.Error(), "5-field") {
		t.Fatalf("Wait = %v; want the reason report was not added", err)
	}
}
