package jobs

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A run whose instance vanished (its record Running, no longer rewritten)
// reads as Disconnected after three heartbeats and is recorded Failed by a
// live instance's sweeper after FailAfter, naming the instance; Wait sees
// it end.
func TestVanishedRunTurnsDisconnectedThenFailed(t *testing.T) {
	p := testServer(t)
	r := startRunner(t, fast(p, "b"), Job{Name: "job", Func: func(context.Context, *Invocation) error { return nil }})
	c, err := r.Client(ctxFor(t, waitLong))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, waitLong)
	// What a SIGKILLed instance "a" leaves behind: a Running record.
	now := time.Now().UTC()
	id := newRunID("job", now)
	dead := Run{ID: id, Job: "job", Kind: Triggered, Trigger: Trigger{Type: TriggerAPI}, State: Running,
		Instance: "a", Session: "a/dead", CreatedAt: now, StartedAt: now, Heartbeat: Duration(100 * time.Millisecond)}
	if _, err := c.st.create(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, id); got.State != Running {
		t.Fatalf("fresh record reads %s", got.State)
	}
	eventually(t, "Disconnected", func() bool { got, _ := c.Get(ctx, id); return got.State == Disconnected })
	if runs, _ := c.List(ctx, Filter{State: Disconnected}); len(runs) != 1 {
		t.Fatalf("List(Disconnected) = %v", ids(runs))
	}
	start := time.Now()
	got := wait(t, c, id)
	if got.State != Failed || !strings.Contains(got.Error, "instance a stopped answering") {
		t.Fatalf("vanished run = %+v", got)
	}
	if waited := time.Since(start); waited > 3*time.Second+time.Second {
		t.Fatalf("failed after %v; FailAfter is 2s", waited)
	}
}

// A run that keeps its heartbeat is never failed by the sweeper.
func TestLiveRunIsNotSwept(t *testing.T) {
	p := testServer(t)
	release := make(chan struct{})
	startRunner(t, fast(p, "a"), Job{Name: "long", Func: func(ctx context.Context, _ *Invocation) error {
		<-release
		return nil
	}})
	c := testClient(t, p)
	id := start(t, c, "long")
	deadline := time.Now().Add(3 * time.Second) // longer than FailAfter
	for time.Now().Before(deadline) {
		if r, _ := c.Get(context.Background(), id); r.State != Running && r.State != NotStarted {
			t.Fatalf("live run turned %s: %+v", r.State, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	if r := wait(t, c, id); r.State != Completed {
		t.Fatalf("run = %+v", r)
	}
}
