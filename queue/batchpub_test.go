package queue

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Each message of a batch gets its own outcome: the stored ones their
// IDs, the ones the server refused an error saying why, duplicates the ID
// they share.
func TestEnqueueBatchReportsEachMessage(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "batchout", Config{MaxBacklog: 3})
	ctx := context.Background()

	ids, err := q.EnqueueBatch(ctx, make([]Message, 5))
	var be *BatchError
	if !errors.As(err, &be) || !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("EnqueueBatch of 5 into a backlog of 3 = %v, want a *BatchError with ErrBacklogFull", err)
	}
	for i := range 3 {
		if want := seqID(int(Normal), uint64(i+1)); ids[i] != want || be.Errs[i] != nil {
			t.Fatalf("message %d: ID %q err %v, want %q stored", i, ids[i], be.Errs[i], want)
		}
	}
	for i := 3; i < 5; i++ {
		if ids[i] != "" || !errors.Is(be.Errs[i], ErrBacklogFull) {
			t.Fatalf("message %d: ID %q err %v, want no ID and ErrBacklogFull", i, ids[i], be.Errs[i])
		}
	}
	if n := streamMsgs(t, q); n != 3 {
		t.Fatalf("%d jobs stored, want 3", n)
	}

	d := testQueue(t, c, "batchdup", Config{})
	ids, err = d.EnqueueBatch(ctx, []Message{{Options: []EnqueueOption{WithID("same")}}, {Options: []EnqueueOption{WithID("same")}}, {}})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != "same" || ids[1] != "same" || !strings.HasPrefix(ids[2], "seq-") {
		t.Fatalf("IDs %q", ids)
	}
	if n := streamMsgs(t, d); n != 2 {
		t.Fatalf("%d jobs stored, want 2 (the duplicate once)", n)
	}

	// More than the window of unanswered messages: sent as answers come.
	big := testQueue(t, c, "batchbig", Config{})
	ids, err = big.EnqueueBatch(ctx, make([]Message, 2*pubWindow+1))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(seen) != len(ids) || seen[""] {
		t.Fatalf("%d distinct IDs for %d jobs", len(seen), len(ids))
	}
	if n := streamMsgs(t, big); n != uint64(len(ids)) {
		t.Fatalf("%d jobs stored, want %d", n, len(ids))
	}
}

// A batch whose context has ended sends nothing and says so; one on a
// closed client fails with ErrClosed.
func TestEnqueueBatchCancelledOrClosedStoresNothing(t *testing.T) {
	p, c := testClient(t)
	q := testQueue(t, c, "batchend", Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ids, err := q.EnqueueBatch(ctx, make([]Message, 3))
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("EnqueueBatch with a cancelled context = %v, want a *BatchError", err)
	}
	for i, e := range be.Errs {
		if e == nil || ids[i] != "" {
			t.Fatalf("message %d: ID %q err %v, want an error", i, ids[i], e)
		}
	}
	if n := streamMsgs(t, q); n != 0 {
		t.Fatalf("%d jobs stored after a cancelled batch", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.EnqueueBatch(context.Background(), make([]Message, 2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("EnqueueBatch after Close = %v, want ErrClosed", err)
	}
}

func TestReadPubAck(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *nats.Msg
		seq  uint64
		dup  bool
		err  string
	}{
		{"stored", &nats.Msg{Data: []byte(`{"stream":"S","seq":42}`)}, 42, false, ""},
		{"duplicate", &nats.Msg{Data: []byte(`{"stream":"S","seq":7,"duplicate":true}`)}, 7, true, ""},
		{"refused", &nats.Msg{Data: []byte(`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}`)}, 0, false, "maximum messages exceeded"},
		{"no responders", &nats.Msg{Header: nats.Header{"Status": {"503"}}}, 0, false, jetstream.ErrNoStreamResponse.Error()},
		{"garbage", &nats.Msg{Data: []byte(`not json`)}, 0, false, jetstream.ErrInvalidJSAck.Error()},
		{"no sequence", &nats.Msg{Data: []byte(`{"stream":"S"}`)}, 0, false, jetstream.ErrInvalidJSAck.Error()},
	} {
		a := readPubAck(tc.m)
		if a.seq != tc.seq || a.dup != tc.dup || (a.err == nil) != (tc.err == "") || (a.err != nil && !strings.Contains(a.err.Error(), tc.err)) {
			t.Errorf("%s: got seq %d dup %v err %v; want %d %v %q", tc.name, a.seq, a.dup, a.err, tc.seq, tc.dup, tc.err)
		}
	}
	var apiErr *jetstream.APIError
	if a := readPubAck(&nats.Msg{Data: []byte(`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`)}); !errors.As(a.err, &apiErr) || apiErr.ErrorCode != 10077 {
		t.Errorf("a refusal's error %v is not the server's APIError", a.err)
	}
}
