package queue

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A holder whose lease was taken over still believes it holds the lock;
// its write, carrying its older token, is refused after the new holder
// wrote, and the new holder's value is kept.
func TestFencedPutRefusesStaleHolder(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	a, b := testLocker(t, c), testLocker(t, peerClient(t, c))
	data, err := c.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "fenced_data"})
	if err != nil {
		t.Fatal(err)
	}

	la, err := a.Acquire(ctx, "writer", "a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := FencedPut(ctx, data, "report", []byte("from a"), la.Token()); err != nil {
		t.Fatal(err)
	}
	if err := FencedPut(ctx, data, "report", []byte("from a, again"), la.Token()); err != nil {
		t.Fatalf("the holder writing again with its own token: %v", err)
	}
	// a pauses (a GC pause, a partition) and its lease expires; b takes over.
	var lb interface{ Token() uint64 }
	waitFor(t, "b to take the lock over", 15*time.Second, func() bool {
		l, err := b.Acquire(ctx, "writer", "b", 10*time.Second)
		if err == nil {
			lb = l
		}
		return err == nil
	})
	if err := FencedPut(ctx, data, "report", []byte("from b"), lb.Token()); err != nil {
		t.Fatal(err)
	}
	err = FencedPut(ctx, data, "report", []byte("stale a"), la.Token())
	mustErrIs(t, err, ErrFenced)
	v, tok, err := FencedGet(ctx, data, "report")
	if err != nil || string(v) != "from b" || tok != lb.Token() {
		t.Fatalf("stored %q with token %d (err %v); want %q with %d", v, tok, err, "from b", lb.Token())
	}
}

// Racing writers with different tokens: whatever the interleaving, the
// stored token is the greatest, and no write with a smaller token than one
// already stored succeeded after it.
func TestFencedPutConcurrent(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	data, err := c.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "fenced_race"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for tok := uint64(1); tok <= 8; tok++ {
		pc := peerClient(t, c)
		kv, err := pc.JetStream().KeyValue(ctx, "fenced_race")
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for range 5 {
				if err := FencedPut(ctx, kv, "k", []byte{byte(tok)}, tok); err != nil && !errors.Is(err, ErrFenced) {
					t.Errorf("token %d: %v", tok, err)
				}
			}
		})
	}
	wg.Wait()
	v, tok, err := FencedGet(ctx, data, "k")
	if err != nil || tok != 8 || len(v) != 1 || v[0] != 8 {
		t.Fatalf("stored %v with token %d (err %v); want the writes of token 8", v, tok, err)
	}
}
