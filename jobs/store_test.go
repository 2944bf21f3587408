package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A client with NoCreate on a NATS where no runner ever had a job fails
// with ErrNoStore and leaves neither the bucket nor the output stream
// behind; once a runner has a job, it opens them.
func TestNoCreateClient(t *testing.T) {
	p := testServer(t)
	ctx := ctxFor(t, waitLong)
	qc, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(ctx, qc, ClientOptions{NoCreate: true}); !errors.Is(err, ErrNoStore) {
		t.Fatalf("NewClient(NoCreate) on a fresh server = %v, want ErrNoStore", err)
	}
	if _, err := qc.JetStream().KeyValue(ctx, bucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("the bucket after a NoCreate open: %v, want not found", err)
	}
	if _, err := qc.JetStream().Stream(ctx, outputStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the output stream after a NoCreate open: %v, want not found", err)
	}
	startRunner(t, fast(p, "a"), Job{Name: "noop", Func: func(ctx context.Context, inv *Invocation) error { return nil }})
	// Until the runner has published the job, so the test does not end
	// while it is still creating its streams (a server shut down
	// mid-creation leaks the stream's goroutines).
	eventually(t, "a NoCreate client that sees the runner's job", func() bool {
		c, err := NewClient(ctx, qc, ClientOptions{NoCreate: true})
		if err != nil {
			return false
		}
		defs, _ := c.Jobs(ctx)
		return len(defs) == 1
	})
}

// A run record counts as stored only once the group commit has it: create
// and update wait for Synced after the server's acknowledgement, and an
// unconfirmed write is an error that says so.
func TestRunRecordsWaitForTheGroupCommit(t *testing.T) {
	p := testServer(t)
	ctx := ctxFor(t, waitLong)
	qc, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var syncs int
	var failSync error
	st, err := openStore(ctx, qc.Conn(), qc.JetStream(), func(context.Context) error { syncs++; return failSync }, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.create(ctx, Run{ID: "sync.1", Job: "sync", State: NotStarted})
	if err != nil || syncs != 1 {
		t.Fatalf("create: %v after %d syncs, want one", err, syncs)
	}
	if _, err := st.update(ctx, rec.Run, rec.rev); err != nil || syncs != 2 {
		t.Fatalf("update: %v after %d syncs, want two", err, syncs)
	}
	failSync = errors.New("disk gone")
	_, err = st.create(ctx, Run{ID: "sync.2", Job: "sync", State: NotStarted})
	if err == nil || !errors.Is(err, failSync) || !strings.Contains(err.Error(), "not confirmed on disk") {
		t.Fatalf("create with a failing sync = %v, want an error saying it is not confirmed on disk", err)
	}
}
