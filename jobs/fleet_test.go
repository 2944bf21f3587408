package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// Two instances on one NATS define the same triggered job: each of many
// runs executes on exactly one of them, and both take some.
func TestTriggeredRunExecutesOnExactlyOneInstance(t *testing.T) {
	p := testServer(t)
	var mu sync.Mutex
	execs := map[string][]string{} // run ID -> instances that ran it
	job := func(instance string) Job {
		return Job{Name: "work", Concurrency: 4, Func: func(ctx context.Context, inv *Invocation) error {
			mu.Lock()
			execs[inv.RunID] = append(execs[inv.RunID], instance)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // a little work, so both instances get some
			return nil
		}}
	}
	oa, ob := fast(p, "a"), fast(p, "b")
	oa.History, ob.History = 100, 100
	startRunner(t, oa, job("a"))
	startRunner(t, ob, job("b"))
	c := testClient(t, p)
	var ids []string
	for range 60 {
		ids = append(ids, start(t, c, "work"))
	}
	by := map[string]int{}
	for _, id := range ids {
		r := wait(t, c, id)
		if r.State != Completed {
			t.Fatalf("run %s: %+v", id, r)
		}
		by[r.Instance]++
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if len(execs[id]) != 1 {
			t.Fatalf("run %s executed on %v; want exactly one instance", id, execs[id])
		}
	}
	if by["a"] == 0 || by["b"] == 0 {
		t.Logf("runs per instance: %v (one instance took all)", by)
	}
}

// A schedule shared by two instances fires once per fire time across both:
// one run per fire, each with the fire time, never two.
func TestScheduleFiresOncePerTimeAcrossInstances(t *testing.T) {
	p := testServer(t)
	clock := clockwork.NewFakeClockAt(time.Date(2026, 3, 15, 10, 0, 0, 500e6, time.UTC))
	var runs atomic.Int64
	job := Job{Name: "tick", Schedule: "*/10 * * * * *", Func: func(ctx context.Context, inv *Invocation) error {
		runs.Add(1)
		return nil
	}}
	oa, ob := fast(p, "a"), fast(p, "b")
	oa.Clock, ob.Clock = clock, clock
	startRunner(t, oa, job)
	startRunner(t, ob, job)
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	for i := 1; i <= 3; i++ {
		// Both schedule loops wait for the next fire time.
		if err := clock.BlockUntilContext(ctx, 2); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Second)
		fire := time.Date(2026, 3, 15, 10, 0, 10*i, 0, time.UTC)
		id := fireRunID("tick", fire)
		var r Run
		eventually(t, "the fire's run", func() bool {
			var err error
			r, err = c.Get(ctx, id)
			return err == nil
		})
		r = wait(t, c, id)
		if r.State != Completed || r.Trigger.Type != TriggerSchedule || !r.Trigger.Fire.Equal(fire) {
			t.Fatalf("fire %d: %+v", i, r)
		}
	}
	list, _ := c.List(ctx, Filter{Job: "tick"})
	if len(list) != 3 || runs.Load() != 3 {
		t.Fatalf("%d runs stored, %d executed; want 3 and 3: %v", len(list), runs.Load(), ids(list))
	}
}

// A scheduled job never overlaps itself: a fire while the last run is
// still going is skipped, and counted.
func TestScheduleSkipsFireWhileRunning(t *testing.T) {
	p := testServer(t)
	clock := clockwork.NewFakeClockAt(time.Date(2026, 3, 15, 10, 0, 0, 500e6, time.UTC))
	release := make(chan struct{})
	o := fast(p, "a")
	o.Clock = clock
	r := startRunner(t, o, Job{Name: "long", Schedule: "*/10 * * * * *", Func: func(ctx context.Context, _ *Invocation) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}})
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	clock.BlockUntilContext(ctx, 1)
	clock.Advance(10 * time.Second)
	first := fireRunID("long", time.Date(2026, 3, 15, 10, 0, 10, 0, time.UTC))
	eventually(t, "the first run running", func() bool { run, err := c.Get(ctx, first); return err == nil && run.State == Running })
	clock.BlockUntilContext(ctx, 1)
	clock.Advance(10 * time.Second)
	eventually(t, "a skipped fire", func() bool { return r.Status().Jobs[0].Skipped == 1 })
	close(release)
	wait(t, c, first)
	if _, err := c.Get(ctx, fireRunID("long", time.Date(2026, 3, 15, 10, 0, 20, 0, time.UTC))); err == nil {
		t.Fatal("the overlapping fire was stored")
	}
}

// A singleton continuous job runs on one of two instances; when that one
// stops, the other takes over.
func TestContinuousSingletonFailsOver(t *testing.T) {
	p := testServer(t)
	var mu sync.Mutex
	running := map[string]bool{}
	job := func(instance string) Job {
		return Job{Name: "leader", Kind: Continuous, Singleton: true, Func: func(ctx context.Context, _ *Invocation) error {
			mu.Lock()
			running[instance] = true
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			running[instance] = false
			mu.Unlock()
			return nil
		}}
	}
	a := startRunner(t, fast(p, "a"), job("a"))
	b := startRunner(t, fast(p, "b"), job("b"))
	both := func() (bool, bool) { mu.Lock(); defer mu.Unlock(); return running["a"], running["b"] }
	eventually(t, "one instance running it", func() bool { x, y := both(); return x != y })
	time.Sleep(300 * time.Millisecond) // a while: still only one
	x, y := both()
	if x == y {
		t.Fatalf("running on a: %v, b: %v; want exactly one", x, y)
	}
	holder, other := a, b
	if y {
		holder, other = b, a
	}
	if got := other.Status().Jobs[0].State; got != "inactive" {
		t.Fatalf("the other instance shows %q; want inactive", got)
	}
	ctx := ctxFor(t, waitLong)
	if err := holder.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the other instance taking over", func() bool { x, y := both(); return x != y && (x == (other == a)) })
	c := testClient(t, p)
	runs, _ := c.List(ctx, Filter{Job: "leader"})
	if len(runs) < 2 || runs[len(runs)-1].State != Stopped || runs[0].State != Running {
		t.Fatalf("runs = %v", ids(runs))
	}
}

// A continuous job that ends is started again, after the backoff of the
// tasks package (driven here by a fake clock).
func TestContinuousRestartsAfterBackoff(t *testing.T) {
	p := testServer(t)
	clock := clockwork.NewFakeClock()
	o := fast(p, "a")
	o.Clock = clock
	var starts atomic.Int64
	startRunner(t, o, Job{Name: "flaky", Kind: Continuous, Func: func(ctx context.Context, _ *Invocation) error {
		starts.Add(1)
		return nil // ends at once
	}})
	eventually(t, "the first run", func() bool { return starts.Load() == 1 })
	ctx := ctxFor(t, waitLong)
	for want := int64(2); want <= 4; want++ {
		clock.BlockUntilContext(ctx, 1) // the backoff timer
		clock.Advance(time.Minute)
		eventually(t, "a restart", func() bool { return starts.Load() == want })
	}
	c := testClient(t, p)
	runs, _ := c.List(ctx, Filter{Job: "flaky", State: Completed})
	if len(runs) < 3 {
		t.Fatalf("completed runs = %v", ids(runs))
	}
}
