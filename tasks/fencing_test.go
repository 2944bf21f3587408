package tasks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
)

// tokenRun is what one run of a task saw: its fencing token, and after its
// context ended, the token again and the cause.
type tokenRun struct {
	token, after uint64
	ok, okAfter  bool
	cause        error
}

// A Singleton task reads its lease's fencing token from its own context;
// after the lease is lost the cancelled run still has the old token (what a
// fenced store refuses), and the run under the next lease gets a greater
// one. Other contexts have none.
func TestFencingToken(t *testing.T) {
	if _, ok := tasks.FencingToken(context.Background()); ok {
		t.Fatal("a context of no task has a fencing token")
	}
	clk := clockwork.NewFakeClockAt(t0)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})

	plain := make(chan bool, 1)
	mustAdd(t, g.Go("plain", func(ctx context.Context) error {
		_, ok := tasks.FencingToken(ctx)
		plain <- ok
		<-ctx.Done()
		return nil
	}))
	runs := make(chan tokenRun, 4)
	mustAdd(t, g.Go("leader", func(ctx context.Context) error {
		var r tokenRun
		// A context derived from the run's carries the token too.
		sub, stop := context.WithTimeout(ctx, time.Hour)
		defer stop()
		r.token, r.ok = tasks.FencingToken(sub)
		runs <- r
		<-ctx.Done()
		r.after, r.okAfter = tasks.FencingToken(ctx)
		r.cause = context.Cause(ctx)
		runs <- r
		return ctx.Err()
	}, tasks.Singleton(tasks.NewLocalLocker(clk), tasks.LeaseTTL(15*time.Second))))

	if recv(t, plain, "the plain task's run") {
		t.Fatal("a task that is not a Singleton has a fencing token")
	}
	first := recv(t, runs, "the first run")
	acq := waitEvents[tasks.EventLeaseAcquired](t, ev, "leader", 1)[0]
	if !first.ok || first.token != acq.Token || first.token != taskStatus(t, g, "leader").LeaseToken {
		t.Fatalf("run's token %d (%v); want the lease's %d, as in status", first.token, first.ok, acq.Token)
	}

	block(t, clk, 1)              // the renewal timer
	clk.Advance(20 * time.Second) // the renewal due at 5s runs only after the lease expired
	lost := recv(t, runs, "the lost run's end")
	if !errors.Is(lost.cause, tasks.ErrLeaseLost) || !lost.okAfter || lost.after != first.token {
		t.Fatalf("after the lease was lost: token %d (%v), cause %v; want the run's token %d and ErrLeaseLost",
			lost.after, lost.okAfter, lost.cause, first.token)
	}
	second := recv(t, runs, "the run under the new lease")
	if !second.ok || second.token <= first.token {
		t.Fatalf("the next run's token %d (%v); want more than %d", second.token, second.ok, first.token)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}
