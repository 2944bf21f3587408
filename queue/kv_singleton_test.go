package queue

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/nats-io/nats.go/jetstream"
)

// Two instances of a role, each with its own Locker on its own connection,
// run the same singleton task: exactly one runs it; when that instance
// stops, the other takes over with a greater fencing token.
func TestSingletonAcrossInstances(t *testing.T) {
	_, c := testClient(t)
	var active atomic.Int64
	type instance struct {
		g      *tasks.Group
		locker *Locker
		runs   chan struct{}
		tokens chan uint64
	}
	start := func(name string, cl *Client) *instance {
		locker := testLocker(t, cl)
		in := &instance{locker: locker, runs: make(chan struct{}, 8), tokens: make(chan uint64, 8)}
		in.g = tasks.NewGroup(context.Background(), tasks.Options{
			Name: "worker", Instance: name,
			OnEvent: func(e tasks.Event) {
				if acq, ok := e.(tasks.EventLeaseAcquired); ok {
					in.tokens <- acq.Token
				}
			},
		})
		t.Cleanup(func() { _ = in.g.Stop(kvCtx(t)) })
		err := in.g.Go("leader", func(ctx context.Context) error {
			if active.Add(1) != 1 {
				t.Errorf("%s: two instances run the singleton at once", name)
			}
			defer active.Add(-1)
			in.runs <- struct{}{}
			<-ctx.Done()
			return nil
		}, tasks.Singleton(locker, tasks.LeaseTTL(time.Second), tasks.AcquireInterval(50*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		return in
	}

	a := start("a", c)
	recv(t, a.runs, "a to run the singleton")
	tokA := recv(t, a.tokens, "a's lease")
	b := start("b", peerClient(t, c))
	// b keeps trying while a renews; over several lease TTLs it never runs.
	end := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(end) {
		select {
		case <-b.runs:
			t.Fatal("b ran the singleton while a holds it")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := a.g.Stop(kvCtx(t)); err != nil {
		t.Fatal(err)
	}
	// a released its lease as it stopped (rather than leaving it to
	// expire): the key is gone, or already b's.
	if e, err := a.locker.kv.Get(kvCtx(t), "worker/leader"); err == nil && !strings.Contains(string(e.Value()), `"holder":"b"`) {
		t.Fatalf("after a stopped the lock holds %s; want it released", e.Value())
	} else if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatal(err)
	}
	recv(t, b.runs, "b to take over")
	if tokB := recv(t, b.tokens, "b's lease"); tokB <= tokA {
		t.Fatalf("b's token %d; want greater than a's %d", tokB, tokA)
	}
}

// A singleton task fences its writes with the token its context carries
// (tasks.FencingToken): the instance that takes over writes with a greater
// one, and a late write from the first instance's token is refused.
func TestSingletonFencedWrites(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	data, err := c.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "singleton_fenced"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, cl *Client) (*tasks.Group, chan uint64) {
		locker := testLocker(t, cl)
		wrote := make(chan uint64, 4)
		g := tasks.NewGroup(context.Background(), tasks.Options{Name: "worker", Instance: name})
		t.Cleanup(func() { _ = g.Stop(kvCtx(t)) })
		err := g.Go("leader", func(ctx context.Context) error {
			tok, ok := tasks.FencingToken(ctx)
			if !ok {
				return tasks.Fatal(errors.New("no fencing token in a singleton's context"))
			}
			if err := FencedPut(ctx, data, "report", []byte("from "+name), tok); err != nil {
				return err
			}
			wrote <- tok
			<-ctx.Done()
			return nil
		}, tasks.Singleton(locker, tasks.LeaseTTL(time.Second), tasks.AcquireInterval(50*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		return g, wrote
	}

	a, aWrote := run("a", c)
	tokA := recv(t, aWrote, "a's write")
	b, bWrote := run("b", peerClient(t, c))
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	tokB := recv(t, bWrote, "b's write after taking over")
	if tokB <= tokA {
		t.Fatalf("b's token %d; want greater than a's %d", tokB, tokA)
	}
	// a, paused through the takeover, wakes up and writes with its token.
	mustErrIs(t, FencedPut(ctx, data, "report", []byte("stale a"), tokA), ErrFenced)
	if v, tok, err := FencedGet(ctx, data, "report"); err != nil || string(v) != "from b" || tok != tokB {
		t.Fatalf("stored %q with token %d (err %v); want b's write", v, tok, err)
	}
	if st := b.Status(); st.Error != "" {
		t.Fatalf("b's group: %s", st.Error)
	}
}
