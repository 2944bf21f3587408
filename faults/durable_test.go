package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/internal/testutil"
)

// Orchestrations of three activities (internal/durablerole's Chain: each
// step adds its number) under faults. Every activity execution is one
// line "<instance> <step>" in its worker's effects file, so the suite
// counts what ran and what ran again.

const durableLease = 2 * time.Second

func durableSettings(hub string, extra map[string]string) map[string]string {
	s := map[string]string{"Hub": hub, "MaxActivities": "4", "MaxOrchestrations": "8", "WorkMs": "2",
		"LeaseMs": strconv.Itoa(int(durableLease / time.Millisecond))}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// openClientHub opens the hub as a client (no workers) on url.
func openClientHub(t *testing.T, url, hub string, replicas int) *durable.Hub {
	t.Helper()
	nc := connectClient(t, url).Conn()
	var h *durable.Hub
	var err error
	if !waitFor(func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h, err = durable.Open(ctx, durable.Options{Hub: hub, Replicas: replicas, Conn: nc})
		return err == nil
	}, waitTimeout) {
		t.Fatalf("open hub %s: %v", hub, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// startChains starts n Chain instances, chain-0..n-1 with input i.
func startChains(t *testing.T, h *durable.Hub, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		ids[i] = fmt.Sprintf("chain-%d", i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			var err error
			// A cluster may be electing a leader: retry a start that failed
			// for that (a repeat of one that landed is ErrAlreadyRunning).
			for range 20 {
				if err = h.Start(ctx, "Chain", durable.StartOptions{InstanceID: ids[i]}, i); err == nil || isAlreadyRunning(err) {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			errs <- fmt.Errorf("start %s: %w", ids[i], err)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

func isAlreadyRunning(err error) bool {
	return err != nil && strings.Contains(err.Error(), durable.ErrAlreadyRunning.Error())
}

// stepTally counts activity executions from effects files.
type stepTally struct {
	executions int // lines
	distinct   int // distinct (instance, step)
	reruns     int // executions - distinct
	fired      map[string]int
}

func countSteps(t *testing.T, files ...string) stepTally {
	t.Helper()
	tl := stepTally{fired: map[string]int{}}
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" {
				continue
			}
			if id, ok := strings.CutPrefix(line, "fired "); ok {
				tl.fired[id]++
				continue
			}
			tl.executions++
			if !seen[line] {
				seen[line] = true
				tl.distinct++
			}
		}
	}
	tl.reruns = tl.executions - tl.distinct
	return tl
}

// waitChains waits until every chain has completed, checks its result
// (input + 6), and returns the longest time no chain completed. progress
// is called on every look with how many are done.
func waitChains(t *testing.T, h *durable.Hub, ids []string, limit time.Duration, progress func(done int)) time.Duration {
	t.Helper()
	deadline := time.Now().Add(limit)
	// Pending instances in the order they were started, which is about the
	// order they complete in: a pass then sees completions as they happen,
	// and progress hears of each one at once, so a test that acts at a
	// count acts before the rest completes.
	pending := make([]int, len(ids))
	for i := range ids {
		pending[i] = i
	}
	last, longest := time.Now(), time.Duration(0)
	for len(pending) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		left := pending[:0]
		for k, i := range pending {
			s, err := h.Status(ctx, ids[i])
			if err != nil {
				left = append(left, pending[k:]...) // the cluster may be electing: look again
				break
			}
			switch s.RuntimeStatus {
			case durable.Completed:
				if string(s.Output) != strconv.Itoa(i+6) {
					t.Fatalf("%s completed with %s, want %d", ids[i], s.Output, i+6)
				}
				last = time.Now()
				if progress != nil {
					progress(len(ids) - (len(pending) - k - 1) - len(left))
				}
				continue
			case durable.Failed, durable.Terminated:
				t.Fatalf("%s ended %s: %+v", ids[i], s.RuntimeStatus, s.Failure)
			}
			left = append(left, i)
		}
		pending = left
		cancel()
		if gap := time.Since(last); gap > longest {
			longest = gap
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d of %d orchestrations not completed", limit, len(pending), len(ids))
		}
		time.Sleep(50 * time.Millisecond) // polling interval over the instances
	}
	return longest
}

// A worker process is SIGKILLed several times while orchestrations of
// three activities run, and started again each time. Every orchestration
// completes with the right result, and the activities that ran twice are
// at most those in flight at the kills (MaxActivities per kill): an
// activity whose result was stored never runs again.
func TestDurableKilledWorkerRerunsOnlyInFlightActivities(t *testing.T) {
	n, kills := scale(150, 1000), scale(3, 6)
	const maxActivities = 4
	dir := t.TempDir()
	srv := newNATSServer(t, "solo", freePort(t), filepath.Join(dir, "nats"))
	srv.start()
	settings := durableSettings("kills", map[string]string{"MaxActivities": strconv.Itoa(maxActivities)})
	var files []string
	file := func(w, gen int) string {
		f := filepath.Join(dir, fmt.Sprintf("steps-w%d-g%d.log", w, gen))
		files = append(files, f)
		return f
	}
	workers := []*worker{
		startBinary(t, durableroleBin, dir, fmt.Sprintf("{url: %q}", srv.url()), file(0, 0), settings),
		startBinary(t, durableroleBin, dir, fmt.Sprintf("{url: %q}", srv.url()), file(1, 0), settings),
	}
	h := openClientHub(t, srv.url(), "kills", 1)
	start := time.Now()
	ids := startChains(t, h, n)

	killed := 0
	stall := waitChains(t, h, ids, waitTimeout*time.Duration(scale(3, 12)), func(done int) {
		if killed < kills && done >= n*(killed+1)/(kills+2) {
			workers[0].kill()
			killed++
			workers[0] = startBinary(t, durableroleBin, dir, fmt.Sprintf("{url: %q}", srv.url()), file(0, killed), settings)
		}
	})
	for _, w := range workers {
		w.stop()
	}
	if killed != kills {
		t.Fatalf("the orchestrations were done before %d kills (only %d): the test proved less than it claims", kills, killed)
	}
	tl := countSteps(t, files...)
	if tl.distinct != 3*n {
		t.Fatalf("%d distinct steps recorded, want %d (3 per orchestration)", tl.distinct, 3*n)
	}
	if max := kills * maxActivities; tl.reruns > max {
		t.Fatalf("%d activity re-runs; at most %d (in flight at %d kills of a worker running %d activities)", tl.reruns, max, kills, maxActivities)
	}
	t.Logf("orchestrations %d, kills %d, activity executions %d (3 × %d = %d needed), re-runs %d (bound %d), longest time without a completion %v, took %v",
		n, killed, tl.executions, n, 3*n, tl.reruns, kills*maxActivities, stall.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// A three-server cluster with the hub's stream on three replicas: the
// server leading the stream is shut down mid-run and later started again.
// Every orchestration completes with the right result, and the hub keeps
// completing them through the leader loss: no gap between completions
// after it exceeds leaderLossMaxGap.
// leaderLossMaxGap bounds the longest time without a completion after the
// stream leader left. A graceful shutdown hands the leaderships over in
// about 0.1 s; a request lost in the handover is sent again after 1 s
// (jsbackend's AnswerTimeout), and a pull request lost with its connection
// is renewed within 7 s (MaxWait + 5 s) at worst. Requests that waited out
// their callers' deadlines instead stalled the hub for 30 s (10 s when
// the stuck request's caller had none).
const leaderLossMaxGap = 8 * time.Second

func TestDurableClusterLeaderLoss(t *testing.T) {
	n := scale(150, 1000)
	dir := t.TempDir()
	servers := newCluster(t, dir)
	for _, s := range servers {
		s.launch()
	}
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.url())
	}
	all := strings.Join(urls, ",")
	waitR3Ready(t, all)
	settings := durableSettings("leaderloss", map[string]string{"Replicas": "3"})
	files := []string{filepath.Join(dir, "steps-0.log"), filepath.Join(dir, "steps-1.log")}
	w0 := startBinary(t, durableroleBin, dir, fmt.Sprintf("{url: %q}", all), files[0], settings)
	w1 := startBinary(t, durableroleBin, dir, fmt.Sprintf("{url: %q}", all), files[1], settings)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker 0 logs:\n%s", w0.logs)
		}
	})
	h := openClientHub(t, all, "leaderloss", 3)
	ids := startChains(t, h, n)
	leader := streamLeader(t, all, "durable_leaderloss")
	var victim *natsServer
	for _, s := range servers {
		if s.opts.ServerName == leader {
			victim = s
		}
	}
	if victim == nil {
		t.Fatalf("leader %q is none of the servers", leader)
	}
	down, restarted := false, false
	// afterLoss is the longest time without a completion since the leader
	// left; waitChains' own figure also counts the start, before the first
	// orchestration completes (they advance together, so that takes the
	// time of a whole run's first steps).
	var downAt, lastDone time.Time
	var afterLoss time.Duration
	stall := waitChains(t, h, ids, waitTimeout*time.Duration(scale(4, 12)), func(done int) {
		if down {
			afterLoss = max(afterLoss, time.Since(lastDone))
			lastDone = time.Now()
		}
		switch {
		case !down && done >= n/4:
			victim.stop()
			down, downAt, lastDone = true, time.Now(), time.Now()
		case down && !restarted && done >= n*3/4:
			victim.start()
			restarted = true
		}
	})
	w0.stop()
	w1.stop()
	if !down {
		t.Fatal("every orchestration completed before the leader went down: the test proved nothing")
	}
	tl := countSteps(t, files...)
	if tl.distinct != 3*n {
		t.Fatalf("%d distinct steps recorded, want %d", tl.distinct, 3*n)
	}
	t.Logf("orchestrations %d, leader %s shut down, activity executions %d, re-runs %d, longest time without a completion %v (after the leader loss %v), leader loss to all done %v",
		n, leader, tl.executions, tl.reruns, stall.Round(time.Millisecond), afterLoss.Round(time.Millisecond), time.Since(downAt).Round(time.Millisecond))
	if afterLoss > leaderLossMaxGap {
		t.Fatalf("no orchestration completed for %v after the stream leader left; at most %v", afterLoss.Round(time.Millisecond), leaderLossMaxGap)
	}
}

// An orchestration waits on a 10-second durable timer; every process is
// SIGKILLed (both workers and the NATS server, which fsyncs every write)
// and started again. The timer fires once, on time, and the orchestration
// completes.
func TestDurableTimerFiresOnceAfterFullRestart(t *testing.T) {
	dir := t.TempDir()
	srv := newSoloProc(t, dir)
	srv.launch()
	srv.awaitReady()
	url := srv.url()
	settings := durableSettings("timers", nil)
	var files []string
	startAll := func(gen int) []*worker {
		var ws []*worker
		for i := range 2 {
			f := filepath.Join(dir, fmt.Sprintf("fired-w%d-g%d.log", i, gen))
			files = append(files, f)
			ws = append(ws, startBinary(t, durableroleBin, dir, fmt.Sprintf("{url: %q}", url), f, settings))
		}
		return ws
	}
	workers := startAll(0)
	h := openClientHub(t, url, "timers", 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	startedAt := time.Now()
	if err := h.Start(ctx, "Timer", durable.StartOptions{InstanceID: "ten-seconds"}); err != nil {
		t.Fatal(err)
	}
	// Running: the first task ran and scheduled the timer.
	if !waitFor(func() bool {
		s, err := h.Status(ctx, "ten-seconds")
		return err == nil && s.RuntimeStatus == durable.Running
	}, waitTimeout) {
		t.Fatal("the timer orchestration never ran")
	}
	for _, w := range workers {
		w.kill()
	}
	srv.kill()
	srv.launch()
	srv.awaitReady()
	workers = startAll(1)
	s, err := waitTimer(t, h, "ten-seconds", startedAt.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(startedAt)
	for _, w := range workers {
		w.stop()
	}
	if s.RuntimeStatus != durable.Completed || string(s.Output) != `"fired"` {
		t.Fatalf("status %+v", s)
	}
	if took < 10*time.Second {
		t.Fatalf("the timer fired after %v, before its 10 seconds", took)
	}
	if n := countSteps(t, files...).fired["ten-seconds"]; n != 1 {
		t.Fatalf("the timer's activity ran %d times, want once", n)
	}
	t.Logf("10 s timer across a full restart of the server and both workers: completed after %v", took.Round(time.Millisecond))
}

// waitTimer waits for the instance to end, looking again after a lost
// connection (the server restarts under it).
func waitTimer(t *testing.T, h *durable.Hub, id string, until time.Time) (*durable.Status, error) {
	t.Helper()
	var last *durable.Status
	var err error
	for time.Now().Before(until) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Until(until))
		last, err = h.Wait(ctx, id)
		cancel()
		if err == nil {
			return last, nil
		}
		<-time.After(100 * time.Millisecond) // the connection may be coming back
	}
	return last, fmt.Errorf("%s did not end in time: %+v, %v", id, last, err)
}

// newSoloProc returns one nats-server process with JetStream that fsyncs
// every write, not yet started.
func newSoloProc(t *testing.T, dir string) *natsProc {
	port := freePort(t)
	return &natsProc{t: t, name: "solo", port: port, logs: &testutil.Buffer{}, args: []string{
		"-name", "solo", "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-store", filepath.Join(dir, "solo"), "-sync", "always",
	}}
}
