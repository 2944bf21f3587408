package jobs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// History keeps the newest ended runs of a job; older ones are removed
// with their output.
func TestHistoryCapRemovesOldRunsWithOutput(t *testing.T) {
	p := testServer(t)
	o := fast(p, "a")
	o.History = 3
	startRunner(t, o, Job{Name: "h", Func: func(ctx context.Context, inv *Invocation) error {
		inv.Printf("run %s", inv.RunID)
		return nil
	}})
	c := testClient(t, p)
	var all []string
	for range 6 {
		id := start(t, c, "h")
		wait(t, c, id)
		all = append(all, id)
		time.Sleep(2 * time.Millisecond)
	}
	ctx := ctxFor(t, waitLong)
	runs, _ := c.List(ctx, Filter{Job: "h"})
	if len(runs) != 3 || runs[0].ID != all[5] || runs[2].ID != all[3] {
		t.Fatalf("kept %v; want the newest 3", ids(runs))
	}
	if _, err := c.Get(ctx, all[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest run: %v", err)
	}
	if n, _ := c.lastSeq(ctx, all[0]); n != 0 {
		t.Fatal("the removed run's output is still stored")
	}
	if got, _ := c.Receive(ctx, all[5], ReceiveOptions{Keep: true}); len(got) != 1 {
		t.Fatalf("kept run's output = %q", texts(got))
	}
}

// Output is capped by size: a run past HistoryBytes loses its oldest
// lines, as a log rotates (counted as dropped), keeping its newest; older
// runs go when the job's kept output passes it.
func TestOutputCappedBySize(t *testing.T) {
	p := testServer(t)
	o := fast(p, "a")
	o.HistoryBytes = 1000
	startRunner(t, o, Job{Name: "chatty", Func: func(ctx context.Context, inv *Invocation) error {
		for i := range 30 {
			inv.Printf("%02d %s", i, strings.Repeat("x", 96))
		}
		return nil
	}})
	c := testClient(t, p)
	first := start(t, c, "chatty")
	r := wait(t, c, first)
	if r.Lines > 10 || r.Lines < 8 || r.Lines+r.Dropped != 30 || r.OutputBytes > 1000 {
		t.Fatalf("run counts = lines %d, bytes %d, dropped %d", r.Lines, r.OutputBytes, r.Dropped)
	}
	got, _ := c.Receive(ctxFor(t, waitLong), first, ReceiveOptions{Keep: true})
	if int64(len(got)) != r.Lines || !strings.HasPrefix(got[len(got)-1].Text, "29 ") || strings.HasPrefix(got[0].Text, "00 ") {
		t.Fatalf("kept %d lines, from %q to %q; want the newest", len(got), got[0].Text[:3], got[len(got)-1].Text[:3])
	}
	second := start(t, c, "chatty")
	wait(t, c, second)
	if _, err := c.Get(ctxFor(t, waitLong), first); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the first run survived past the job's size cap: %v", err)
	}
}

// A line of megabytes is stored in pieces of 64 KiB, and binary garbage
// is stored as valid UTF-8 without control characters; nothing breaks.
func TestLongLinesAndGarbage(t *testing.T) {
	p := testServer(t)
	big := strings.Repeat("y", 3<<20+5)
	garbage := []byte("bin\x00\x1b[31mred\xff\xfe\x07end")
	startRunner(t, fast(p, "a"), Job{Name: "odd", Func: func(ctx context.Context, inv *Invocation) error {
		inv.Stdout.Write([]byte(big + "\n"))
		inv.Stdout.Write(append(garbage, '\n'))
		return nil
	}})
	c := testClient(t, p)
	id := start(t, c, "odd")
	if r := wait(t, c, id); r.State != Completed {
		t.Fatalf("run = %+v", r)
	}
	got, err := c.Receive(ctxFor(t, waitLong), id, ReceiveOptions{Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	pieces := (len(big) + maxLine - 1) / maxLine
	if len(got) != pieces+1 {
		t.Fatalf("%d lines; want %d pieces and the garbage line", len(got), pieces+1)
	}
	var joined strings.Builder
	for _, l := range got[:pieces] {
		if len(l.Text) > maxLine {
			t.Fatalf("a piece of %d bytes", len(l.Text))
		}
		joined.WriteString(l.Text)
	}
	if joined.String() != big {
		t.Fatal("the pieces do not make the line")
	}
	g := got[pieces].Text
	if !utf8.ValidString(g) || strings.ContainsAny(g, "\x00\x1b\x07") || !strings.HasPrefix(g, "bin") || !strings.HasSuffix(g, "end") {
		t.Fatalf("garbage stored as %q", g)
	}
}

// Follow delivers lines as they are stored and returns when the run has
// ended and its last line was delivered.
func TestFollowLive(t *testing.T) {
	p := testServer(t)
	step := make(chan struct{})
	startRunner(t, fast(p, "a"), Job{Name: "tail", Func: func(ctx context.Context, inv *Invocation) error {
		for i := range 3 {
			<-step
			inv.Printf("line %d", i)
		}
		return nil
	}})
	c := testClient(t, p)
	id := start(t, c, "tail")
	var mu sync.Mutex
	var seen []string
	got := make(chan string, 10)
	done := make(chan Run, 1)
	go func() {
		r, err := c.Follow(context.Background(), id, func(l Line) error {
			mu.Lock()
			seen = append(seen, l.Text)
			mu.Unlock()
			got <- l.Text
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	for i := range 3 {
		step <- struct{}{}
		select {
		case l := <-got:
			if want := "line " + string(rune('0'+i)); l != want {
				t.Fatalf("followed %q; want %q", l, want)
			}
		case <-time.After(waitLong):
			t.Fatal("line not followed live")
		}
	}
	select {
	case r := <-done:
		if r.State != Completed {
			t.Fatalf("follow returned %+v", r)
		}
	case <-time.After(waitLong):
		t.Fatal("Follow did not return after the run ended")
	}
	if !slices.Equal(seen, []string{"line 0", "line 1", "line 2"}) {
		t.Fatalf("seen %q", seen)
	}
}

// Stopping the runner (the instance stopping) ends its runs Stopped; a Go
// job that ignores its context is abandoned after StoppingWait, and Stop
// still returns.
func TestRunnerStopStopsRuns(t *testing.T) {
	p := testServer(t)
	unblock := make(chan struct{})
	t.Cleanup(func() { close(unblock) })
	r := startRunner(t, fast(p, "a"),
		Job{Name: "polite", Func: func(ctx context.Context, inv *Invocation) error {
			inv.Printf("started")
			<-ctx.Done()
			return nil
		}},
		Job{Name: "deaf", StoppingWait: 200 * time.Millisecond, Func: func(ctx context.Context, inv *Invocation) error {
			<-unblock
			return nil
		}},
	)
	c := testClient(t, p)
	polite, deaf := start(t, c, "polite"), start(t, c, "deaf")
	ctx := ctxFor(t, waitLong)
	eventually(t, "both running", func() bool { return r.Status().Running == 2 })
	began := time.Now()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("Stop took %v", took)
	}
	if run, _ := c.Get(ctx, polite); run.State != Stopped || run.Error != "stopped: the instance is stopping" {
		t.Fatalf("polite run = %+v", run)
	}
	if run, _ := c.Get(ctx, deaf); run.State != Stopped || !strings.Contains(run.Error, "abandoned") {
		t.Fatalf("deaf run = %+v", run)
	}
	if got := r.Status().Abandoned; got != 1 {
		t.Fatalf("abandoned = %d", got)
	}
}

// Role code adds Go jobs through the context of its hooks.
func TestAddThroughContext(t *testing.T) {
	p := testServer(t)
	r := startRunner(t, fast(p, "a"))
	ctx := WithRunner(context.Background(), r)
	if From(ctx) != r {
		t.Fatal("From does not find the runner")
	}
	if err := Add(ctx, Job{Name: "late", Func: func(context.Context, *Invocation) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := Add(context.Background(), Job{Name: "x"}); !errors.Is(err, ErrNoRunner) {
		t.Fatalf("Add without a runner = %v", err)
	}
	if err := Add(ctx, Job{Name: "late", Func: func(context.Context, *Invocation) error { return nil }}); !errors.Is(err, ErrDuplicateJob) {
		t.Fatalf("duplicate = %v", err)
	}
	c := testClient(t, p)
	if run := wait(t, c, start(t, c, "late")); run.State != Completed {
		t.Fatalf("run = %+v", run)
	}
}
