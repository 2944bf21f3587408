package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// Three worker processes, each allowed 4 jobs at once, work a queue whose
// FleetConcurrency is 3. Each records when its handlers start and end
// (the machine's one clock); sweeping all the records, never more than 3
// handlers ran at once, the cap was reached, and every job ran.
func TestFleetConcurrencyAcrossProcesses(t *testing.T) {
	const jobs, fleet, workers = 90, 3, 3
	dir := t.TempDir()
	srv := newNATSServer(t, "solo", freePort(t), filepath.Join(dir, "nats"))
	srv.start()
	c := connectClient(t, srv.url())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cfg := faultQueueConfig(1)
	cfg.FleetConcurrency = fleet
	q, err := c.Queue(ctx, "fleet", cfg)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]queue.Message, jobs)
	for i := range msgs {
		msgs[i] = queue.Message{Payload: []byte("x"), Options: []queue.EnqueueOption{queue.WithID(fmt.Sprintf("job-%d", i))}}
	}
	if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var timelines, files []string
	var ws []*worker
	for i := range workers {
		tl := filepath.Join(dir, fmt.Sprintf("timeline-%d.log", i))
		eff := filepath.Join(dir, fmt.Sprintf("effects-%d.log", i))
		timelines, files = append(timelines, tl), append(files, eff)
		ws = append(ws, startWorker(t, dir, srv.url(), eff, map[string]string{
			"Queue": "fleet", "FleetConcurrency": strconv.Itoa(fleet), "Concurrency": "4", "WorkMs": "20", "Timeline": tl,
		}))
	}
	ids := make([]string, jobs)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", i)
	}
	tl, _ := waitDone(t, ids, waitTimeout, nil, func() []string { return files })
	for _, w := range ws {
		w.stop()
	}
	if tl.lost != 0 {
		t.Fatalf("%d jobs not done", tl.lost)
	}
	type event struct {
		at    int64
		delta int
	}
	var events []event
	perWorker := make([]int, workers)
	for i, f := range timelines {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var kind, id string
			var at int64
			if _, err := fmt.Sscan(line, &kind, &id, &at); err != nil {
				t.Fatalf("timeline line %q: %v", line, err)
			}
			d := 1
			if kind == "end" {
				d = -1
			} else {
				perWorker[i]++
			}
			events = append(events, event{at, d})
		}
	}
	// Ends before starts at the same nanosecond: a handler that ended
	// let the next one start.
	sort.Slice(events, func(i, j int) bool {
		if events[i].at != events[j].at {
			return events[i].at < events[j].at
		}
		return events[i].delta < events[j].delta
	})
	running, most := 0, 0
	for _, e := range events {
		running += e.delta
		most = max(most, running)
	}
	if most > fleet {
		t.Fatalf("%d handlers ran at once across the processes; the fleet cap is %d", most, fleet)
	}
	if most < fleet {
		t.Fatalf("at most %d handlers ran at once: the cap of %d was never reached, the test proves little", most, fleet)
	}
	busy := 0
	for _, n := range perWorker {
		if n > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Fatalf("jobs per worker %v: want the fleet to share them", perWorker)
	}
	t.Logf("jobs %d, at most %d at once (cap %d), per worker %v, took %v", jobs, most, fleet, perWorker, time.Duration(events[len(events)-1].at-events[0].at).Round(time.Millisecond))
}
