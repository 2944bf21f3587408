package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// Receive hands each line over once, across calls; with Keep it returns
// all of the output and hands nothing over. HasMoreData follows.
func TestReceiveOnceOrKeep(t *testing.T) {
	p := testServer(t)
	next := make(chan struct{})
	startRunner(t, fast(p, "a"), Job{Name: "talk", Func: func(ctx context.Context, inv *Invocation) error {
		inv.Printf("one")
		inv.Printf("two")
		<-next
		inv.Printf("three")
		return nil
	}})
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	id := start(t, c, "talk")
	eventually(t, "two lines", func() bool { r, _ := c.Get(ctx, id); return r.Lines == 2 })
	r, _ := c.Get(ctx, id)
	if !r.HasMoreData {
		t.Fatal("HasMoreData false before any receive")
	}
	got, err := c.Receive(ctx, id, ReceiveOptions{})
	if err != nil || !slices.Equal(texts(got), []string{"one", "two"}) {
		t.Fatalf("first receive = %q, %v", texts(got), err)
	}
	if r, _ := c.Get(ctx, id); r.HasMoreData {
		t.Fatal("HasMoreData after receiving everything")
	}
	if got, _ := c.Receive(ctx, id, ReceiveOptions{}); len(got) != 0 {
		t.Fatalf("second receive = %q, want nothing new", texts(got))
	}
	close(next)
	wait(t, c, id)
	if got, _ := c.Receive(ctx, id, ReceiveOptions{Keep: true}); !slices.Equal(texts(got), []string{"one", "two", "three"}) {
		t.Fatalf("receive -keep = %q", texts(got))
	}
	if got, _ := c.Receive(ctx, id, ReceiveOptions{}); !slices.Equal(texts(got), []string{"three"}) {
		t.Fatalf("receive after keep = %q, want only the new line", texts(got))
	}
	// Keep with After: only the lines after one read before.
	all, _ := c.Receive(ctx, id, ReceiveOptions{Keep: true})
	if got, _ := c.Receive(ctx, id, ReceiveOptions{Keep: true, After: all[0].Seq}); !slices.Equal(texts(got), []string{"two", "three"}) {
		t.Fatalf("receive -keep after the first line = %q", texts(got))
	}
	if got, _ := c.Receive(ctx, id, ReceiveOptions{Keep: true, After: all[2].Seq}); len(got) != 0 {
		t.Fatalf("receive -keep after the last line = %q, want nothing", texts(got))
	}
}

// Concurrent receivers never both get a line.
func TestConcurrentReceiversSplitLines(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"), Job{Name: "many", Func: func(ctx context.Context, inv *Invocation) error {
		for i := range 200 {
			inv.Printf("%d", i)
		}
		return nil
	}})
	c := testClient(t, p)
	id := start(t, c, "many")
	wait(t, c, id)
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := c.Receive(context.Background(), id, ReceiveOptions{})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			all = append(all, texts(got)...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(all) != 200 {
		t.Fatalf("receivers got %d lines together, want each of 200 once", len(all))
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != 200 {
		t.Fatal("a line was handed over twice")
	}
}

// Stop ends a running Go job through its context: the run ends Stopped,
// its output up to then kept; a queued run is Stopped at once and never
// runs.
func TestStopRunningAndQueued(t *testing.T) {
	p := testServer(t)
	ran := make(chan string, 10)
	startRunner(t, fast(p, "a"), Job{Name: "slow", Func: func(ctx context.Context, inv *Invocation) error {
		ran <- inv.RunID
		inv.Printf("working")
		<-ctx.Done()
		if !errors.Is(context.Cause(ctx), ErrStopRequested) {
			return fmt.Errorf("cause %v", context.Cause(ctx))
		}
		return ctx.Err()
	}})
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	first := start(t, c, "slow")
	if got := <-ran; got != first {
		t.Fatalf("ran %s", got)
	}
	queued := start(t, c, "slow") // concurrency 1: waits behind the first
	if r, err := c.Stop(ctx, queued); err != nil || r.State != Stopped {
		t.Fatalf("stop queued = %+v, %v", r, err)
	}
	eventually(t, "output stored", func() bool { r, _ := c.Get(ctx, first); return r.Lines == 1 })
	if _, err := c.Stop(ctx, first); err != nil {
		t.Fatal(err)
	}
	r := wait(t, c, first)
	if r.State != Stopped || r.Error != "stopped on request" {
		t.Fatalf("stopped run = %+v", r)
	}
	if got, _ := c.Receive(ctx, first, ReceiveOptions{Keep: true}); !slices.Equal(texts(got), []string{"working"}) {
		t.Fatalf("output of the stopped run = %q", texts(got))
	}
	// The stopped queued run's trigger is taken and dropped.
	third := start(t, c, "slow")
	if got := <-ran; got != third {
		t.Fatalf("after the stopped queued run, ran %s; want %s", got, third)
	}
	if r, _ := c.Get(ctx, queued); r.State != Stopped || !r.StartedAt.IsZero() {
		t.Fatalf("queued run = %+v", r)
	}
	c.Stop(ctx, third)
	wait(t, c, third)
}

// Bad input to the client: each a clear error, nothing started.
func TestClientBadInput(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"),
		Job{Name: "ok", Func: func(context.Context, *Invocation) error { return nil }},
		Job{Name: "pump", Kind: Continuous, Func: func(ctx context.Context, _ *Invocation) error { <-ctx.Done(); return nil }},
	)
	c := testClient(t, p)
	start(t, c, "ok") // the runner has published its jobs
	ctx := ctxFor(t, waitLong)
	for _, tc := range []struct {
		job  string
		args []string
		want error
	}{
		{"nope", nil, ErrUnknownJob},
		{"bad name!", nil, ErrUnknownJob},
		{"pump", nil, ErrNotTriggered},
		{"ok", []string{"a\x00b"}, ErrBadArgs},
		{"ok", []string{"\xff"}, ErrBadArgs},
		{"ok", make([]string, MaxArgs+1), ErrBadArgs},
		{"ok", []string{strings.Repeat("x", MaxArgsBytes)}, ErrBadArgs},
	} {
		if _, err := c.Start(ctx, tc.job, StartOptions{Args: tc.args}); !errors.Is(err, tc.want) {
			t.Errorf("Start(%q, %d args) = %v; want %v", tc.job, len(tc.args), err, tc.want)
		}
	}
	for _, id := range []string{"", "nodot", "ok.", "ok.a b", "-x.1", "ok." + strings.Repeat("a", 65)} {
		if _, err := c.Get(ctx, id); !errors.Is(err, ErrBadRunID) {
			t.Errorf("Get(%q) = %v; want ErrBadRunID", id, err)
		}
	}
	for _, f := range []func(string) error{
		func(id string) error { _, err := c.Get(ctx, id); return err },
		func(id string) error { _, err := c.Wait(ctx, id); return err },
		func(id string) error { _, err := c.Stop(ctx, id); return err },
		func(id string) error { _, err := c.Receive(ctx, id, ReceiveOptions{}); return err },
		func(id string) error { _, err := c.Follow(ctx, id, func(Line) error { return nil }); return err },
	} {
		if err := f("ok.20260101T000000Z-000000"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown run: %v; want ErrNotFound", err)
		}
	}
	if _, err := c.List(ctx, Filter{State: "Bogus"}); err == nil {
		t.Error("List with an unknown state: no error")
	}
}

// A singleton triggered job refuses a second start while a run is queued
// or running, naming it; once it ended, a start works again.
func TestSingletonRefusesSecondStart(t *testing.T) {
	p := testServer(t)
	release := make(chan struct{})
	startRunner(t, fast(p, "a"), Job{Name: "once", Singleton: true, Func: func(ctx context.Context, _ *Invocation) error {
		<-release
		return nil
	}})
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	id := start(t, c, "once")
	_, err := c.Start(ctx, "once", StartOptions{})
	if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), id) {
		t.Fatalf("second start = %v; want ErrAlreadyRunning naming %s", err, id)
	}
	close(release)
	wait(t, c, id)
	if _, err := c.Start(ctx, "once", StartOptions{}); err != nil {
		t.Fatalf("start after the end: %v", err)
	}
}

// A flood of triggers is refused past MaxQueued instead of stored without
// bound; what was accepted all runs.
func TestFloodOfTriggersIsBounded(t *testing.T) {
	p := testServer(t)
	o := fast(p, "a")
	o.MaxQueued = 5
	release := make(chan struct{})
	var mu sync.Mutex
	ran := 0
	startRunner(t, o, Job{Name: "busy", Func: func(ctx context.Context, _ *Invocation) error {
		<-release
		mu.Lock()
		ran++
		mu.Unlock()
		return nil
	}})
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	accepted := []string{start(t, c, "busy")}
	var refused error
	for range 50 {
		id, err := c.Start(ctx, "busy", StartOptions{})
		if err != nil {
			refused = err
			break
		}
		accepted = append(accepted, id)
	}
	if !errors.Is(refused, ErrTooManyQueued) {
		t.Fatalf("after %d starts: %v; want ErrTooManyQueued", len(accepted), refused)
	}
	if len(accepted) > 7 {
		t.Fatalf("%d starts accepted with MaxQueued 5", len(accepted))
	}
	close(release)
	for _, id := range accepted {
		if r := wait(t, c, id); r.State != Completed {
			t.Fatalf("run %s = %+v", id, r)
		}
	}
}

// List filters by job and state and returns the newest first.
func TestListByJobAndState(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"),
		Job{Name: "good", Func: func(context.Context, *Invocation) error { return nil }},
		Job{Name: "bad", Func: func(context.Context, *Invocation) error { return errors.New("no") }},
	)
	c := testClient(t, p)
	var goods []string
	for range 3 {
		id := start(t, c, "good")
		wait(t, c, id)
		goods = append(goods, id)
		time.Sleep(5 * time.Millisecond) // distinct creation times
	}
	wait(t, c, start(t, c, "bad"))
	ctx := ctxFor(t, waitLong)
	runs, err := c.List(ctx, Filter{Job: "good"})
	if err != nil || len(runs) != 3 || runs[0].ID != goods[2] || runs[2].ID != goods[0] {
		t.Fatalf("List(good) = %v, %v", ids(runs), err)
	}
	if runs, _ := c.List(ctx, Filter{State: Failed}); len(runs) != 1 || runs[0].Job != "bad" {
		t.Fatalf("List(Failed) = %v", ids(runs))
	}
	if runs, _ := c.List(ctx, Filter{Limit: 2}); len(runs) != 2 {
		t.Fatalf("List(Limit 2) = %v", ids(runs))
	}
}

func ids(runs []Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID + ":" + string(r.State)
	}
	return out
}

// A job's definition is published once it can be started: a client that
// sees it in Jobs can Start it at once (its queue is declared).
func TestDefinitionMeansStartable(t *testing.T) {
	p := testServer(t)
	// The runner on a TCP connection of its own, as an instance elsewhere.
	remote, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: p.Status().URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	var js []Job
	for i := range 8 {
		js = append(js, Job{Name: fmt.Sprintf("j%d", i), Func: func(context.Context, *Invocation) error { return nil }})
	}
	startRunner(t, fast(remote, "a"), js...)
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	for _, j := range js {
		for { // the moment its definition is readable
			if _, err := c.st.definition(ctx, j.Name); err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("no definition of %s", j.Name)
			}
		}
		if _, err := c.Start(ctx, j.Name, StartOptions{}); err != nil {
			t.Fatalf("Start(%s) right after its definition showed: %v", j.Name, err)
		}
	}
}

// A trigger the queue dead-letters (here one that cannot be read) does not
// leave its run NotStarted for ever: the run is recorded Failed, saying so.
func TestDeadLetteredTriggerFailsItsRun(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"), Job{Name: "x", Func: func(context.Context, *Invocation) error { return nil }})
	c := testClient(t, p)
	start(t, c, "x") // the queue exists
	ctx := ctxFor(t, waitLong)
	now := time.Now().UTC()
	id := newRunID("x", now)
	if _, err := c.st.create(ctx, Run{ID: id, Job: "x", Kind: Triggered, State: NotStarted, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	q, err := c.queue(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, []byte(`{"id": "garbage"}`), queue.WithID(id)); err != nil {
		t.Fatal(err)
	}
	r := wait(t, c, id)
	if r.State != Failed || !strings.Contains(r.Error, "dead-lettered") {
		t.Fatalf("run = %+v", r)
	}
}
