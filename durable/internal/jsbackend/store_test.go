package jsbackend

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/core"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// A request nobody answers (sent while the stream's leader changes, or to
// a server going away) is sent again after answerWait rather than waiting
// out the caller's deadline: go-workflows gives a task fetch 30 s, and
// every worker stalled that long after a stream leader left
// (faults.TestDurableClusterLeaderLoss). Each test's responder ignores
// the first request and answers the next, on a plain NATS server.

// dropFirst answers subject's requests with answer, except the first,
// which it ignores. It returns what it received (requests, and messages
// without a reply: a batch's staged ones).
func dropFirst(t *testing.T, nc *nats.Conn, subject string, answer func(*nats.Msg) []byte) func() []*nats.Msg {
	t.Helper()
	var mu sync.Mutex
	var got []*nats.Msg
	requests := 0
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		got = append(got, m)
		if m.Reply != "" {
			requests++
		}
		n := requests
		mu.Unlock()
		if n <= 1 {
			return
		}
		if err := m.Respond(answer(m)); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return func() []*nats.Msg {
		mu.Lock()
		defer mu.Unlock()
		return append([]*nats.Msg(nil), got...)
	}
}

func plainConn(t *testing.T) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testStore waits 50 ms for an answer; the caller's deadline is far
// longer, so an answer only comes in time if the request is sent again.
func testStore(t *testing.T) (*store, context.Context) {
	nc := plainConn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &store{nc: nc, stream: "S", reqTimeout: time.Minute, answerWait: 50 * time.Millisecond}, ctx
}

func TestStoreReadAsksAgainWhenUnanswered(t *testing.T) {
	st, ctx := testStore(t)
	got := dropFirst(t, st.nc, "$JS.API.STREAM.MSG.GET.S", func(*nats.Msg) []byte {
		return []byte(`{"message":{"subject":"a.b","seq":7,"data":"eA=="}}`)
	})
	m, err := st.last(ctx, "a.>")
	if err != nil {
		t.Fatal(err)
	}
	if m == nil || m.Seq != 7 || string(m.Data) != "x" {
		t.Fatalf("read %+v, want seq 7 with data x", m)
	}
	if ctx.Err() != nil {
		t.Fatal("the read waited out the caller's deadline")
	}
	if n := len(got()); n != 2 {
		t.Fatalf("%d requests, want 2 (the unanswered one sent again)", n)
	}
}

func TestStorePublishAsksAgainWhenUnanswered(t *testing.T) {
	st, ctx := testStore(t)
	got := dropFirst(t, st.nc, "a.b", func(*nats.Msg) []byte { return []byte(`{"stream":"S","seq":9}`) })
	m := nats.NewMsg("a.b")
	m.Header.Set("Nats-Expected-Last-Subject-Sequence", "3")
	m.Data = []byte("x")
	ack, err := st.publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 9 {
		t.Fatalf("ack %+v, want seq 9", ack)
	}
	msgs := got()
	if len(msgs) != 2 {
		t.Fatalf("%d publishes, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.Header.Get("Nats-Expected-Last-Subject-Sequence") != "3" || string(m.Data) != "x" {
			t.Fatalf("a repeat differs from the message: %v %q", m.Header, m.Data)
		}
	}
}

// A batch sent again is staged again whole, under a new batch ID: the
// server drops what the unanswered send staged.
func TestStoreBatchAsksAgainWhenUnanswered(t *testing.T) {
	st, ctx := testStore(t)
	got := dropFirst(t, st.nc, "b.*", func(*nats.Msg) []byte { return []byte(`{"stream":"S","seq":12,"count":3}`) })
	var msgs []*nats.Msg
	for _, subj := range []string{"b.1", "b.2", "b.3"} {
		msgs = append(msgs, &nats.Msg{Subject: subj, Data: []byte(subj)})
	}
	ack, err := st.publishBatch(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 12 {
		t.Fatalf("ack %+v, want seq 12", ack)
	}
	// The first send's commit is the one dropped; everything else arrives.
	batches := map[string][]string{}
	var order []string
	for _, m := range got() {
		id := m.Header.Get("Nats-Batch-Id")
		if _, ok := batches[id]; !ok {
			order = append(order, id)
		}
		batches[id] = append(batches[id], m.Header.Get("Nats-Batch-Sequence")+":"+m.Subject)
	}
	if len(order) != 2 {
		t.Fatalf("batches %v, want 2 sends under different IDs", batches)
	}
	for _, id := range order {
		b, _ := json.Marshal(batches[id])
		if string(b) != `["1:b.1","2:b.2","3:b.3"]` {
			t.Fatalf("batch %s staged %s, want every message in order", id, b)
		}
	}
}

// A read of an instance that ends before a message the caller holds (a
// task delivered from that log) is stale, and is read again: a decision
// not to write taken on it (an activity's result found in already) would
// drop the task's effect. The fake leader answers the first read with the
// log as it was before the task's message (seq 5), then as it is (seq 9).
func TestLoadViewSeenReadsAgainWhenStale(t *testing.T) {
	st, ctx := testStore(t)
	n, err := newNames("t")
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend{st: st, n: n}
	st.stream = n.stream
	snap := func(seq uint64, activities ...string) []byte {
		e := &entry{Instance: "i", Exec: "x", Snap: &snapshot{Instance: &core.WorkflowInstance{InstanceID: "i", ExecutionID: "x"},
			Queue: "default", Activities: activities}}
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := json.Marshal(map[string]any{"message": map[string]any{"subject": n.commit("i", "x", routeNone()), "seq": seq, "data": data}})
		return m
	}
	var mu sync.Mutex
	reads := 0
	sub, err := st.nc.Subscribe("$JS.API.STREAM.MSG.GET."+n.stream, func(m *nats.Msg) {
		mu.Lock()
		reads++
		r := reads
		mu.Unlock()
		if r == 1 {
			_ = m.Respond(snap(5))
			return
		}
		_ = m.Respond(snap(9, "a1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	v, err := b.loadViewSeen(ctx, "i", nil, 9)
	if err != nil {
		t.Fatal(err)
	}
	if v.last != 9 || len(v.snap.Activities) != 1 {
		t.Fatalf("view at %d awaiting %v; want the log at 9, awaiting a1", v.last, v.snap.Activities)
	}
	mu.Lock()
	defer mu.Unlock()
	if reads != 2 {
		t.Fatalf("%d reads, want 2 (the stale one read again)", reads)
	}
}
