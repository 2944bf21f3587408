package queue

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/nats-io/nats.go"
)

func TestJobStatusAndReply(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "tracked", Config{TrackStatus: true})
	ctx := context.Background()
	replies := make(chan *nats.Msg, 4)
	sub, err := c.nc.ChanSubscribe("results.>", replies)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if _, err := q.Enqueue(ctx, []byte("ok"), WithID("job-ok"), WithReply("results.ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, []byte("bad"), WithID("job-bad"), WithReply("results.bad")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "queued state", 5*time.Second, func() bool {
		s, err := q.JobStatus(ctx, "job-ok")
		return err == nil && s.State == StateQueued
	})
	_, err = q.JobStatus(ctx, "nope")
	mustErrIs(t, err, ErrNotFound)

	running := make(chan struct{})
	release := make(chan struct{})
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		if j.ID == "job-bad" {
			return Permanent(errors.New("bad order"))
		}
		close(running)
		<-release
		if err := j.SetResult(make([]byte, 70<<10)); !errors.Is(err, ErrResultTooLarge) {
			t.Errorf("oversized result: %v", err)
		}
		return j.SetResult([]byte("receipt-1"))
	}, WorkerOptions{Concurrency: 2})
	recv(t, running, "handler running")
	waitFor(t, "running state", 5*time.Second, func() bool {
		s, err := q.JobStatus(ctx, "job-ok")
		return err == nil && s.State == StateRunning && s.Attempts == 1
	})
	close(release)
	got := map[string]*nats.Msg{}
	for range 2 {
		m := recv(t, replies, "a reply")
		got[m.Subject] = m
	}
	if m := got["results.ok"]; m == nil || string(m.Data) != "receipt-1" || m.Header.Get("Cloudrole-Outcome") != "succeeded" || m.Header.Get("Cloudrole-Id") != "job-ok" {
		t.Fatalf("success reply %+v", m)
	}
	if m := got["results.bad"]; m == nil || !strings.Contains(string(m.Data), "bad order") || m.Header.Get("Cloudrole-Outcome") != "dead" {
		t.Fatalf("dead reply %+v", m)
	}
	waitFor(t, "final states", 5*time.Second, func() bool {
		ok, err1 := q.JobStatus(ctx, "job-ok")
		bad, err2 := q.JobStatus(ctx, "job-bad")
		return err1 == nil && err2 == nil && ok.State == StateSucceeded && string(ok.Result) == "receipt-1" &&
			bad.State == StateDead && strings.Contains(bad.LastError, "bad order")
	})

	untracked := testQueue(t, c, "untracked", Config{})
	_, err = untracked.JobStatus(ctx, "x")
	mustErrIs(t, err, ErrStatusOff)
}

func TestRetryingStatus(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "retrystatus", Config{TrackStatus: true, RetryBase: time.Hour, RetryMax: time.Hour})
	ctx := context.Background()
	startWorker(t, ctx, q, func(context.Context, *Job) error { return errors.New("db down") }, WorkerOptions{})
	if _, err := q.Enqueue(ctx, nil, WithID("r1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failed state", 5*time.Second, func() bool {
		s, err := q.JobStatus(ctx, "r1")
		return err == nil && s.State == StateFailed && s.LastError == "db down" && s.Attempts == 1
	})
}

func TestWorkerStatusSection(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "shown", Config{})
	reg := hostctx.NewRegistry()
	ctx := hostctx.With(context.Background(), hostctx.New(slog.New(slog.DiscardHandler), reg))
	for range 3 {
		if _, err := q.Enqueue(ctx, nil, WithPriority(Low)); err != nil {
			t.Fatal(err)
		}
	}
	gate := make(chan struct{})
	started := make(chan struct{}, 3)
	stop := startWorker(t, ctx, q, func(context.Context, *Job) error {
		started <- struct{}{}
		<-gate
		return errors.New("fails once")
	}, WorkerOptions{Concurrency: 1})
	recv(t, started, "job start")
	snap := func() WorkerStatus {
		var ws WorkerStatus
		waitFor(t, "status section", 5*time.Second, func() bool {
			for _, n := range reg.Names() {
				if n == "queue:shown" {
					return true
				}
			}
			return false
		})
		b, err := json.Marshal(reg.Snapshot()["queue:shown"])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &ws); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	ws := snap()
	if ws.InFlight != 1 || len(ws.Pending) != 3 || ws.Pending[Low] != 2 || ws.Concurrency != 1 {
		t.Fatalf("status %+v: want 1 in flight, 2 pending at low", ws)
	}
	close(gate)
	waitFor(t, "failures counted", 5*time.Second, func() bool { return q.figure().Failed >= 3 })
	if ws := snap(); ws.LastError != "fails once" || ws.Failed < 3 {
		t.Fatalf("status after failures %+v", ws)
	}
	stop()
	for _, n := range reg.Names() {
		if n == "queue:shown" {
			t.Fatal("status section still registered after Work returned")
		}
	}
}
