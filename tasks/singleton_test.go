package tasks_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
)

// Two groups (two instances) share a lock: exactly one runs the singleton
// task, the other is inactive and keeps trying; when the holder stops, the
// other takes over with a greater fencing token.
func TestSingletonRunsOnOneInstance(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	locker := tasks.NewLocalLocker(clk)
	single := tasks.Singleton(locker, tasks.LeaseTTL(15*time.Second), tasks.AcquireInterval(5*time.Second))

	var active atomic.Int64
	type group struct {
		g      *tasks.Group
		ev     *events
		cancel context.CancelFunc
		runs   chan string
	}
	start := func(instance string) *group {
		ctx, cancel := context.WithCancel(context.Background())
		gr := &group{ev: newEvents(), cancel: cancel, runs: make(chan string, 4)}
		gr.g = tasks.NewGroup(ctx, tasks.Options{Name: "worker", Instance: instance, Clock: clk, OnEvent: gr.ev.hook})
		mustAdd(t, gr.g.Go("leader", func(ctx context.Context) error {
			if active.Add(1) != 1 {
				t.Errorf("two instances run the singleton at once")
			}
			defer active.Add(-1)
			gr.runs <- instance
			<-ctx.Done()
			return nil
		}, single))
		t.Cleanup(cancel)
		return gr
	}

	a := start("a")
	acq := waitEvents[tasks.EventLeaseAcquired](t, a.ev, "leader", 1)[0]
	if acq.Lock != "worker/leader" || acq.Token != 1 {
		t.Fatalf("acquired %+v; want lock worker/leader, token 1", acq)
	}
	recv(t, a.runs, "a runs")
	b := start("b")
	for range 3 {
		block(t, clk, 2) // a's renewal timer and b's retry timer
		if st := taskStatus(t, b.g, "leader"); st.State != tasks.StateInactive || st.Runs != 0 || !st.Singleton {
			t.Fatalf("b: status %+v; want inactive, never run", st)
		}
		if st := taskStatus(t, a.g, "leader"); st.State != tasks.StateRunning || st.LeaseToken != 1 {
			t.Fatalf("a: status %+v; want running with token 1", st)
		}
		clk.Advance(5 * time.Second) // a renews, b tries again
	}

	if err := a.g.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	block(t, clk, 1) // b's retry timer
	clk.Advance(5 * time.Second)
	if got := recv(t, b.runs, "b takes over"); got != "b" {
		t.Fatalf("%s runs; want b", got)
	}
	if acq := waitEvents[tasks.EventLeaseAcquired](t, b.ev, "leader", 1)[0]; acq.Token <= 1 {
		t.Fatalf("b's token %d; want greater than a's", acq.Token)
	}
	if st := taskStatus(t, b.g, "leader"); st.LeaseToken != 2 || st.State != tasks.StateRunning {
		t.Fatalf("b: status %+v; want running with token 2", st)
	}
	if n := count[tasks.EventLeaseAcquired](a.ev, "leader"); n != 1 {
		t.Fatalf("a acquired %d times", n)
	}
	b.cancel()
	if err := wait(t, b.g); err != nil {
		t.Fatal(err)
	}
}

// A holder that cannot renew in time (here: the process was paused longer
// than the TTL) loses its lease: the run is cancelled with a cause wrapping
// ErrLeaseLost, and the task goes back to acquiring.
func TestSingletonLeaseLost(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	locker := tasks.NewLocalLocker(clk)
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})
	causes := make(chan error, 4)
	mustAdd(t, g.Go("leader", func(ctx context.Context) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	}, tasks.Singleton(locker, tasks.LeaseTTL(15*time.Second))))

	waitEvents[tasks.EventLeaseAcquired](t, ev, "leader", 1)
	block(t, clk, 1)              // the renewal timer
	clk.Advance(20 * time.Second) // renewal due at 5s runs only now, after expiry
	cause := recv(t, causes, "lease-lost cancellation")
	if !errors.Is(cause, tasks.ErrLeaseLost) || !strings.Contains(cause.Error(), `"leader"`) {
		t.Fatalf("cause %v; want ErrLeaseLost naming the task", cause)
	}
	lost := waitEvents[tasks.EventLeaseLost](t, ev, "leader", 1)[0]
	if lost.Token != 1 || !errors.Is(lost.Err, tasks.ErrLeaseLost) {
		t.Fatalf("lost event %+v", lost)
	}
	// Nobody else holds it, so the task acquires it again at once.
	if acq := waitEvents[tasks.EventLeaseAcquired](t, ev, "leader", 2)[1]; acq.Token != 2 {
		t.Fatalf("re-acquired with token %d; want 2", acq.Token)
	}
	if st := taskStatus(t, g, "leader"); st.Restarts != 0 || st.LastError != "" {
		t.Fatalf("status %+v; losing a lease is not a failure", st)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
	if n := count[tasks.EventFailure](ev, "leader"); n != 0 {
		t.Fatalf("%d failures reported:%v", n, ev)
	}
}

// A singleton CRON task only runs its schedule while it holds the lock, and
// the lease survives the schedule's idle waits.
func TestSingletonCron(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	locker := tasks.NewLocalLocker(clk)
	// Another instance holds the lock first.
	other, err := locker.Acquire(context.Background(), "tasks/report", "other", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk})
	fired := make(chan time.Time, 4)
	mustAdd(t, g.Cron("report", "0 * * * * *", func(context.Context) error {
		fired <- clk.Now()
		return nil
	}, tasks.Singleton(locker)))
	block(t, clk, 1) // retry timer
	if st := taskStatus(t, g, "report"); st.State != tasks.StateInactive {
		t.Fatalf("state %s; want inactive while another instance holds the lock", st.State)
	}
	if err := other.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second) // 00:00:08: acquires, waits for 00:01:00
	block(t, clk, 2)             // renewal and schedule timers
	for range 52 / 5 {
		clk.Advance(5 * time.Second) // renewals every 5s keep the lease
		block(t, clk, 2)
	}
	clk.Advance(clk.Until(taskStatus(t, g, "report").NextRun))
	if got := recv(t, fired, "fire").Format(time.TimeOnly); got != "00:01:00" {
		t.Fatalf("fired at %s; want 00:01:00", got)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// unreachableLocker stands in for a lock store that cannot be reached, a
// fault LocalLocker cannot produce.
type unreachableLocker struct{}

func (unreachableLocker) Acquire(context.Context, string, string, time.Duration) (tasks.Lease, error) {
	return nil, errors.New("kv unreachable")
}

// A singleton that cannot reach its lock store stays inactive, says why in
// its status, and keeps trying.
func TestSingletonLockStoreDown(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk})
	mustAdd(t, g.Go("leader", func(context.Context) error {
		t.Error("ran without the lock")
		return nil
	}, tasks.Singleton(unreachableLocker{}, tasks.AcquireInterval(time.Second))))
	for range 3 {
		block(t, clk, 1) // the retry timer
		st := taskStatus(t, g, "leader")
		if st.State != tasks.StateInactive || st.LastError != "acquiring lock: kv unreachable" || st.Runs != 0 {
			t.Fatalf("status %+v; want inactive with the lock error", st)
		}
		clk.Advance(time.Second)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}

// flakyLeaseLocker hands out local leases whose Renew fails with a
// transient store error once broken is set.
type flakyLeaseLocker struct {
	*tasks.LocalLocker
	broken *atomic.Bool
}

type flakyLease struct {
	tasks.Lease
	broken *atomic.Bool
}

func (l flakyLeaseLocker) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (tasks.Lease, error) {
	lease, err := l.LocalLocker.Acquire(ctx, name, holder, ttl)
	if err != nil {
		return nil, err
	}
	return flakyLease{lease, l.broken}, nil
}

func (l flakyLease) Renew(ctx context.Context) error {
	if l.broken.Load() {
		return errors.New("kv unreachable")
	}
	return l.Lease.Renew(ctx)
}

// When renewals keep failing with a store error, the singleton stops its
// run before the lease can expire in the store (ttl after the last
// renewal), so a new holder never runs alongside it.
func TestSingletonStopsBeforeLeaseExpires(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	var broken atomic.Bool
	locker := flakyLeaseLocker{tasks.NewLocalLocker(clk), &broken}
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := tasks.NewGroup(ctx, tasks.Options{Clock: clk, OnEvent: ev.hook})
	stopped := make(chan time.Time, 4)
	mustAdd(t, g.Go("leader", func(ctx context.Context) error {
		<-ctx.Done()
		stopped <- clk.Now()
		return nil
	}, tasks.Singleton(locker, tasks.LeaseTTL(15*time.Second))))

	waitEvents[tasks.EventLeaseAcquired](t, ev, "leader", 1)
	broken.Store(true)
	// Renewal tries come every 5 s. The one at 5 s fails and is retried;
	// after the one at 10 s fails there is no time for another before the
	// lease expires at 15 s, so the run must stop then.
	for range 2 {
		block(t, clk, 1) // the renewal timer, re-armed after each try
		clk.Advance(5 * time.Second)
	}
	at := recv(t, stopped, "the run stopping while renewals fail")
	if d := at.Sub(t0); d >= 15*time.Second {
		t.Fatalf("run stopped %v after the last renewal; the lease expired at 15s", d)
	}
	lost := waitEvents[tasks.EventLeaseLost](t, ev, "leader", 1)[0]
	if !errors.Is(lost.Err, tasks.ErrLeaseLost) || !strings.Contains(lost.Err.Error(), "kv unreachable") {
		t.Fatalf("lost event %+v; want ErrLeaseLost with the store error", lost)
	}
	cancel()
	if err := wait(t, g); err != nil {
		t.Fatal(err)
	}
}
