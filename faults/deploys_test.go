package faults

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/queue"
)

// Ten deploys in a row, each in the middle of a long job: the worker
// process gets SIGTERM, its drain timeout runs out and it hands the job
// back, and a new process starts. A stop never uses up an attempt, so the
// job (MaxDeliver 3) starts as attempt 1 every time and is never
// dead-lettered; the eleventh process finishes it, once.
func TestDeploysNeverBurnAttempts(t *testing.T) {
	const deploys = 10
	dir := t.TempDir()
	srv := newNATSServer(t, "solo", freePort(t), filepath.Join(dir, "nats"))
	srv.start()
	c := connectClient(t, srv.url())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cfg := faultQueueConfig(1)
	cfg.MaxDeliver = 3
	q, err := c.Queue(ctx, "deploys", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, []byte("long"), queue.WithID("long")); err != nil {
		t.Fatal(err)
	}
	starts := filepath.Join(dir, "starts.log")
	effectsFile := filepath.Join(dir, "effects.log")
	settings := map[string]string{"Queue": "deploys", "MaxDeliver": "3", "Concurrency": "1", "DrainMs": "100", "Starts": starts}
	lines := func() []string {
		b, _ := os.ReadFile(starts)
		return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
	}
	for i := range deploys {
		settings["WorkMs"] = "600000" // far longer than a deploy
		w := startWorker(t, dir, srv.url(), effectsFile, settings)
		if !waitFor(func() bool { return len(lines()) == i+1 }, waitTimeout) {
			t.Fatalf("deploy %d: the job did not start; starts %v; logs:\n%s", i, lines(), w.logs)
		}
		w.stop()
	}
	settings["WorkMs"] = "1"
	w := startWorker(t, dir, srv.url(), effectsFile, settings)
	if !waitFor(func() bool { return effects(t, effectsFile)["long"] == 1 }, waitTimeout) {
		t.Fatalf("the job never finished; starts %v; logs:\n%s", lines(), w.logs)
	}
	w.stop()
	got := lines()
	if len(got) != deploys+1 {
		t.Fatalf("%d starts, want %d: %v", len(got), deploys+1, got)
	}
	for i, l := range got {
		if l != "long_1" {
			t.Fatalf("start %d was %q, want attempt 1 every time: %v", i, l, got)
		}
	}
	if dl, err := q.DeadLetters(ctx, 0); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %+v, %v", dl, err)
	}
	if n := effects(t, effectsFile)["long"]; n != 1 {
		t.Fatalf("the job's effect recorded %d times", n)
	}
}
