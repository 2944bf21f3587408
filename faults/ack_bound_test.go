package faults

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/queue"
)

// Under the default sync: always the server works through acks at the
// disk's fsync rate, far slower than no-op handlers finish. A role is
// SIGKILLed the moment every handler has returned: the jobs that run again
// after the restart are the ones whose ack the server had not confirmed,
// and the worker must bound those (Concurrency running plus Concurrency
// awaiting confirmation), not let them grow with the backlog.
func TestKilledAfterHandlersReturnedRerunsBounded(t *testing.T) {
	jobs := scale(5000, 20000)
	const concurrency = 256
	// Long enough that no lease expires while acks wait their turn: every
	// re-run comes from the kill. The jobs in flight at the kill come back
	// after it.
	const ackWait = 5 * time.Second
	dir := t.TempDir()
	cfg := queue.Config{AckWait: ackWait, RetryBase: 100 * time.Millisecond, RetryMax: time.Second, Replicas: 1}

	// Fill the role's store before the role runs, so its worker finds the
	// whole backlog at once.
	ids := fillStore(t, filepath.Join(dir, "nats"), cfg, jobs)

	port := freePort(t)
	natsYAML := fmt.Sprintf("{listen: \"127.0.0.1:%d\", sync: always}", port)
	settings := map[string]string{"Concurrency": fmt.Sprint(concurrency), "WorkMs": "0", "AckWaitMs": fmt.Sprint(ackWait.Milliseconds())}
	files := []string{filepath.Join(dir, "effects-0.log"), filepath.Join(dir, "effects-1.log")}
	role := startRole(t, dir, natsYAML, files[0], settings)
	if !waitFor(func() bool { return count(ids, effects(t, files[0])).lost == 0 }, waitTimeout*time.Duration(scale(2, 4))) {
		t.Fatalf("not every job ran; %+v; logs:\n%s", count(ids, effects(t, files[0])), role.logs)
	}
	role.kill()
	if tl := count(ids, effects(t, files[0])); tl.duplicates != 0 {
		t.Fatalf("%d jobs ran twice before any fault: leases expired while acks waited", tl.duplicates)
	}

	role = startRole(t, dir, natsYAML, files[1], settings)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	c := waitClient(t, url, role)
	if !waitFor(func() bool { return storedJobs(t, c, "faults", 3) == 0 }, waitTimeout) {
		t.Fatalf("jobs still stored after the restart; logs:\n%s", role.logs)
	}
	role.stop()
	tl := count(ids, effects(t, files...))
	if tl.lost != 0 {
		t.Fatalf("%d of %d jobs lost", tl.lost, tl.jobs)
	}
	if bound := 2 * concurrency; tl.duplicates > bound {
		t.Fatalf("%d jobs ran again after the kill; at most %d (Concurrency %d running plus as many awaiting the server's confirmation)", tl.duplicates, bound, concurrency)
	}
	t.Logf("jobs %d, concurrency %d, ran again after the SIGKILL %d (bound %d)", tl.jobs, concurrency, tl.duplicates, 2*concurrency)
}

// fillStore enqueues n jobs with IDs job-0..n-1 into the queue "faults" of
// an embedded server (sync: always) on storeDir, then shuts it down.
func fillStore(t *testing.T, storeDir string, cfg queue.Config, n int) []string {
	t.Helper()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: storeDir, Sync: "always"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout*2)
	defer cancel()
	c, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue(ctx, "faults", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, n)
	const batch = 1000
	for first := 0; first < n; first += batch {
		msgs := make([]queue.Message, 0, batch)
		for i := first; i < min(first+batch, n); i++ {
			id := fmt.Sprintf("job-%d", i)
			ids = append(ids, id)
			msgs = append(msgs, queue.Message{Payload: []byte(id), Options: []queue.EnqueueOption{queue.WithID(id)}})
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
	}
	return ids
}

// waitClient connects to a role's embedded server once it listens.
func waitClient(t *testing.T, url string, role *worker) *queue.Client {
	t.Helper()
	var c *queue.Client
	if !waitFor(func() bool {
		p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: url}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if c, err = p.Client(ctx); err != nil {
			p.Close()
			return false
		}
		t.Cleanup(func() { p.Close() })
		return true
	}, waitTimeout) {
		t.Fatalf("the role's embedded server never accepted a client; logs:\n%s", role.logs)
	}
	return c
}

// storedJobs counts the jobs stored at every level of queue name (a
// WorkQueue stream deletes a job when its ack is processed).
func storedJobs(t *testing.T, c *queue.Client, name string, levels int) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n uint64
	for l := range levels {
		s, err := c.JetStream().Stream(ctx, fmt.Sprintf("CRQ_%s_p%d", name, l))
		if err != nil {
			return 1 << 62 // not there yet: not empty
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(""))
		if err != nil {
			return 1 << 62
		}
		n += info.State.Msgs
	}
	return n
}
