package queue

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/nats-io/nats.go"
)

// A handler reporting progress as fast as it can: JobStatus and the
// worker's status section show it, the status record is written at most
// once per ProgressInterval, and the final record keeps the last value.
func TestProgressThrottledAndShown(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "prog", Config{TrackStatus: true})
	reg := hostctx.NewRegistry()
	ctx := hostctx.With(context.Background(), hostctx.New(slog.New(slog.DiscardHandler), reg))
	writes := make(chan *nats.Msg, 10000)
	sub, err := c.nc.ChanSubscribe("$KV."+statusBucket("prog")+".busy", writes)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	stopReporting := make(chan struct{})
	release := make(chan struct{})
	const every = 200 * time.Millisecond
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		for {
			select {
			case <-stopReporting:
				j.SetProgress(100, "done "+strings.Repeat("x", 1000))
				<-release
				return nil
			default:
			}
			n := calls.Add(1)
			j.SetProgress(float64(n), "step")
		}
	}, WorkerOptions{ProgressInterval: every})
	if _, err := q.Enqueue(ctx, nil, WithID("busy")); err != nil {
		t.Fatal(err)
	}
	// Count the record's writes over a few intervals of reporting.
	waitFor(t, "progress in JobStatus", 5*time.Second, func() bool {
		s, err := q.JobStatus(ctx, "busy")
		return err == nil && s.State == StateRunning && s.Progress != nil && s.Progress.Done > 0
	})
	for len(writes) > 0 {
		<-writes
	}
	t0 := time.Now()
	const watched = 4
	for range watched {
		m := recv(t, writes, "a progress write")
		var s JobStatus
		if err := json.Unmarshal(m.Data, &s); err != nil || s.Progress == nil || s.Progress.Message != "step" {
			t.Fatalf("write %s: %v", m.Data, err)
		}
	}
	elapsed := time.Since(t0)
	if max := int(elapsed/every) + 1; watched > max {
		t.Fatalf("%d writes in %v, at most %d at one per %v", watched, elapsed, max, every)
	}
	if n := calls.Load(); n < 100*watched {
		t.Fatalf("only %d SetProgress calls: the handler did not report fast enough to test the throttle", n)
	}

	// The status section lists the running job with its progress.
	var ws WorkerStatus
	b, _ := json.Marshal(reg.Snapshot()["queue:prog"])
	if err := json.Unmarshal(b, &ws); err != nil {
		t.Fatal(err)
	}
	if len(ws.Running) != 1 || ws.Running[0].ID != "busy" || ws.Running[0].Progress == nil || ws.Running[0].Progress.Done < 1 {
		t.Fatalf("status section running %+v", ws.Running)
	}
	close(stopReporting)
	waitFor(t, "the last value in the section", 5*time.Second, func() bool {
		var ws WorkerStatus
		b, _ := json.Marshal(reg.Snapshot()["queue:prog"])
		return json.Unmarshal(b, &ws) == nil && len(ws.Running) == 1 && ws.Running[0].Progress.Done == 100
	})
	close(release)
	waitFor(t, "succeeded with its last progress", 5*time.Second, func() bool {
		s, err := q.JobStatus(ctx, "busy")
		return err == nil && s.State == StateSucceeded && s.Progress != nil && s.Progress.Done == 100 &&
			len(s.Progress.Message) <= maxProgressMessage && strings.HasPrefix(s.Progress.Message, "done x")
	})
}

// A job from NewJob keeps its progress for the test that called the handler.
func TestProgressOfNewJob(t *testing.T) {
	j := NewJob(nil)
	if _, ok := j.Progress(); ok {
		t.Fatal("progress before any was set")
	}
	j.SetProgress(3, "three")
	if p, ok := j.Progress(); !ok || p.Done != 3 || p.Message != "three" {
		t.Fatalf("progress %+v %v", p, ok)
	}
}
