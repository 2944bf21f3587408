package faults

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Three worker processes consume jobs; one is SIGKILLed mid-stream three
// times and restarted each time. Every job is processed (0 lost), and the
// duplicates are bounded by what the killed worker held in flight at each
// kill (its concurrency): only a job whose effect was recorded but whose
// ack never reached the server can run twice.
//
// With Idempotent on, each effect goes through queue.Idempotency: a job
// redelivered after its effect was recorded (its ack lost with the killed
// worker) is skipped. What is left is the window the helper documents: a
// kill between the effect and the done mark.
func TestKilledWorkerLosesNothing(t *testing.T) {
	for _, idem := range []bool{false, true} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) { killWorkers(t, idem) })
	}
}

func killWorkers(t *testing.T, idempotent bool) {
	jobs := scale(10000, 50000)
	const concurrency, kills = 4, 3
	dir := t.TempDir()
	srv := newNATSServer(t, "solo", freePort(t), filepath.Join(dir, "nats"))
	srv.start()

	settings := map[string]string{"Concurrency": fmt.Sprint(concurrency), "WorkMs": "1", "Idempotent": fmt.Sprint(idempotent)}
	var files []string
	effectsFile := func(i, gen int) string {
		f := filepath.Join(dir, fmt.Sprintf("effects-w%d-g%d.log", i, gen))
		files = append(files, f)
		return f
	}
	workers := make([]*worker, 3)
	for i := range workers {
		workers[i] = startWorker(t, dir, srv.url(), effectsFile(i, 0), settings)
	}
	ids := enqueueJobs(t, srv.url(), "faults", jobs, 1, "job")

	// Kill worker 0 at about 20%, 45% and 70% of the jobs done.
	marks := []int{jobs * 20 / 100, jobs * 45 / 100, jobs * 70 / 100}
	killed := 0
	start := time.Now()
	tl, stall := waitDone(t, ids, waitTimeout*time.Duration(scale(2, 10)), func(tl tally) {
		if killed < kills && tl.done >= marks[killed] {
			workers[0].kill()
			killed++
			workers[0] = startWorker(t, dir, srv.url(), effectsFile(0, killed), settings)
		}
	}, func() []string { return files })
	for _, w := range workers {
		w.stop()
	}
	if killed != kills {
		t.Fatalf("the jobs were done before %d kills (only %d): the test proved less than it claims", kills, killed)
	}
	// Late duplicates may still land while the last deliveries finish.
	tl = count(ids, effects(t, files...))
	if tl.lost != 0 {
		t.Fatalf("%d of %d jobs lost", tl.lost, tl.jobs)
	}
	if max := kills * concurrency; tl.duplicates > max {
		t.Fatalf("%d duplicate deliveries; at most %d (in flight at %d kills of a worker with concurrency %d)", tl.duplicates, max, kills, concurrency)
	}
	t.Logf("jobs %d, kills %d, lost %d, duplicates %d, longest pause %v, took %v",
		tl.jobs, killed, tl.lost, tl.duplicates, stall.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
