package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/queue"
)

// natsProc is a nats-server process (internal/natsserver) that can be
// SIGKILLed and started again on the same addresses and store.
type natsProc struct {
	t      *testing.T
	name   string
	port   int
	args   []string
	logs   *testutil.Buffer
	cmd    *exec.Cmd
	exited chan struct{}
	ready  chan struct{}
}

// newProcCluster returns three nats-server processes routed together on
// loopback, each with its own store, not yet started. Every write is
// fsynced (-sync always), as a production queue cluster should run.
func newProcCluster(t *testing.T, dir string) []*natsProc {
	const n = 3
	routePorts := make([]int, n)
	routes := make([]string, n)
	for i := range routePorts {
		routePorts[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[i])
	}
	procs := make([]*natsProc, n)
	for i := range procs {
		name, port := fmt.Sprintf("p%d", i), freePort(t)
		procs[i] = &natsProc{t: t, name: name, port: port, logs: &testutil.Buffer{}, args: []string{
			"-name", name, "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-store", filepath.Join(dir, name),
			"-cluster", fmt.Sprintf("127.0.0.1:%d", routePorts[i]), "-routes", strings.Join(routes, ","), "-sync", "always",
		}}
	}
	return procs
}

// launch starts the process without waiting until it accepts clients, so
// that the servers of a cluster come up together; awaitReady waits.
func (p *natsProc) launch() {
	p.t.Helper()
	p.cmd = exec.Command(natsserverBin, p.args...)
	p.cmd.Stderr = p.logs
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited, ready := make(chan struct{}), make(chan struct{})
	p.exited, p.ready = exited, ready
	cmd := p.cmd
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "natsserver ready ") {
				close(ready)
			}
		}
		cmd.Wait()
	}()
	p.t.Cleanup(p.kill)
}

func (p *natsProc) awaitReady() {
	p.t.Helper()
	select {
	case <-p.ready:
	case <-p.exited:
		p.t.Fatalf("nats-server %s exited before it was ready:\n%s", p.name, p.logs)
	case <-time.After(waitTimeout):
		p.t.Fatalf("nats-server %s not ready within %v:\n%s", p.name, waitTimeout, p.logs)
	}
}

// kill SIGKILLs the process and waits until it is gone; a no-op when it
// is not running.
func (p *natsProc) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// terminate sends SIGTERM, on which the server shuts down gracefully
// (handing its leaderships to the others, as Shutdown does in process),
// and waits until it is gone.
func (p *natsProc) terminate() {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		p.t.Fatalf("nats-server %s did not exit on SIGTERM within %v:\n%s", p.name, waitTimeout, p.logs)
	}
	p.cmd = nil
}

func (p *natsProc) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.port) }

// readinessWatch polls workers' /readyz (nothing notifies us of a
// readiness change) and records, after the start, when a worker first
// reported a stream without leader and when all were ready again after
// that.
type readinessWatch struct {
	addrs  []string
	client *http.Client
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	mu         sync.Mutex
	reasons    map[string]bool // every 503 reason seen
	noLeader   time.Time       // first "no … leader" reason
	readyAgain time.Time       // all 200 again after noLeader
}

func watchReadiness(addrs []string) *readinessWatch {
	w := &readinessWatch{addrs: addrs, client: &http.Client{Timeout: time.Second}, stop: make(chan struct{}), done: make(chan struct{}), reasons: map[string]bool{}}
	go w.run()
	return w
}

func (w *readinessWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(20 * time.Millisecond) // polling interval
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		all, leaderless := true, false
		for _, a := range w.addrs {
			code, body := w.get(a)
			if code == http.StatusOK {
				continue
			}
			all = false
			leaderless = leaderless || strings.Contains(body, "leader")
			w.mu.Lock()
			w.reasons[fmt.Sprintf("%d %s", code, body)] = true
			w.mu.Unlock()
		}
		now := time.Now()
		w.mu.Lock()
		if leaderless && w.noLeader.IsZero() {
			w.noLeader = now
		}
		if all && !w.noLeader.IsZero() && w.readyAgain.IsZero() {
			w.readyAgain = now
		}
		w.mu.Unlock()
	}
}

func (w *readinessWatch) get(addr string) (int, string) {
	resp, err := w.client.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// end stops the watch (idempotent) and returns what it saw.
func (w *readinessWatch) end() (noLeader, readyAgain time.Time, reasons []string) {
	w.once.Do(func() {
		close(w.stop)
		<-w.done
		w.client.CloseIdleConnections()
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	for r := range w.reasons {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	return w.noLeader, w.readyAgain, reasons
}

// A 3-server cluster of real nats-server processes with an R3 queue: the
// process leading the queue's stream is SIGKILLed mid-stream (no graceful
// hand-over: the others must notice and elect a leader) and restarted
// later. While it is down an enqueuer keeps adding jobs, retrying each
// failed enqueue with the same ID. No job is lost; the longest pause
// without progress (the election), and when the workers' readiness
// reported the leaderless stream and the recovery, are reported.
func TestClusterLeaderKilledLosesNothing(t *testing.T) {
	jobs, late := scale(4000, 20000), scale(100, 500)
	dir := t.TempDir()
	procs := newProcCluster(t, dir)
	for _, p := range procs {
		p.launch()
	}
	var urls []string
	for _, p := range procs {
		p.awaitReady()
		urls = append(urls, p.url())
	}
	all := strings.Join(urls, ",")
	waitR3Ready(t, all)

	files := []string{filepath.Join(dir, "effects-0.log"), filepath.Join(dir, "effects-1.log")}
	settings := map[string]string{"Concurrency": "4", "WorkMs": "5", "Replicas": "3"}
	workers := []*worker{startWorker(t, dir, all, files[0], settings), startWorker(t, dir, all, files[1], settings)}
	t.Cleanup(func() {
		if t.Failed() {
			for i, w := range workers {
				t.Logf("worker %d logs:\n%s", i, w.logs)
			}
		}
	})
	var addrs []string
	for _, w := range workers {
		select {
		case a := <-w.health:
			addrs = append(addrs, a)
		case <-time.After(waitTimeout):
			t.Fatalf("no health address logged:\n%s", w.logs)
		}
	}
	ids := enqueueJobs(t, all, "faults", jobs, 3, "job")
	leader := streamLeader(t, all, "crq_faults_p1") // the Normal level, where the jobs are
	var victim *natsProc
	for _, p := range procs {
		if p.name == leader {
			victim = p
		}
	}
	if victim == nil {
		t.Fatalf("leader %q is none of the servers", leader)
	}
	// The level's consumer is a Raft group of its own whose leader serves
	// the workers' pulls; led elsewhere, processing would go on without
	// the stream's leader and only enqueues would wait. Lead both from
	// the victim, so the kill costs both elections.
	colocateConsumer(t, all, "CRQ_faults_p1", leader)
	if !waitFor(func() bool {
		for _, a := range addrs {
			if code, _ := readyz(a); code != http.StatusOK {
				return false
			}
		}
		return count(ids, effects(t, files...)).done >= jobs/4
	}, waitTimeout) {
		t.Fatalf("the workers were never ready with a quarter of the jobs done; logs:\n%s", workers[0].logs)
	}

	lq := lateQueue(t, all) // opened now: a create or update may wait for the election
	watch := watchReadiness(addrs)
	t.Cleanup(func() { watch.end() })
	victim.kill()
	downAt := time.Now()
	if c := count(ids, effects(t, files...)); c.lost == 0 {
		t.Fatal("every job was done before the leader was killed: the test proved nothing")
	}

	// Enqueue while the stream has no leader, retrying with the same ID.
	lateIDs := make([]string, late)
	enqErrs := map[string]int{}
	var enqWG sync.WaitGroup
	stopEnq := make(chan struct{})
	t.Cleanup(func() { close(stopEnq); enqWG.Wait() }) // before lq's client closes
	enqWG.Go(func() {
		for i := range lateIDs {
			id := fmt.Sprintf("late-%d", i)
			lateIDs[i] = id
			deadline := time.Now().Add(waitTimeout)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := lq.Enqueue(ctx, []byte(id), queue.WithID(id))
				cancel()
				if err == nil {
					break
				}
				enqErrs[errKind(err)]++
				select {
				case <-stopEnq:
					return // the test ended early
				default:
				}
				if time.Now().After(deadline) {
					t.Errorf("enqueue %s still failing after %v: %v", id, waitTimeout, err)
					return
				}
			}
		}
	})

	restarted := false
	_, stall := waitDone(t, ids, waitTimeout*time.Duration(scale(2, 6)), func(tl tally) {
		// Bring the killed server back once the others have made
		// progress without it.
		if !restarted && tl.done >= jobs*3/4 {
			victim.launch()
			victim.awaitReady()
			restarted = true
		}
	}, func() []string { return files })
	enqWG.Wait()
	if !restarted {
		t.Fatal("the killed server was never restarted")
	}
	every := append(append([]string(nil), ids...), lateIDs...)
	waitDone(t, every, waitTimeout, nil, func() []string { return files })
	took := time.Since(downAt)
	if noLeader, _, _ := watch.peek(); noLeader.IsZero() {
		_, _, reasons := watch.end()
		t.Fatalf("readiness never reported the stream without leader; 503 reasons seen: %q", reasons)
	}
	if !waitFor(func() bool { _, ready, _ := watch.peek(); return !ready.IsZero() }, waitTimeout) {
		t.Error("the workers' readiness never came back after the leaderless stream")
	}
	noLeader, readyAgain, reasons := watch.end()
	for _, w := range workers {
		w.stop()
	}
	seen := effects(t, files...)
	tl, lt := count(every, seen), count(lateIDs, seen)
	if tl.lost != 0 {
		t.Fatalf("%d of %d jobs lost", tl.lost, tl.jobs)
	}
	t.Logf("jobs %d (%d enqueued during the outage, %d duplicates among them; failed attempts, retried with the same ID: %v), leader %s SIGKILLed, lost %d, duplicates %d, longest time without progress %v, leader loss to all done %v; readiness reported no leader %v after the kill, ready again %v after the kill; 503 reasons: %q",
		tl.jobs, late, lt.duplicates, enqErrs, leader, tl.lost, tl.duplicates, stall.Round(time.Millisecond), took.Round(time.Millisecond),
		noLeader.Sub(downAt).Round(time.Millisecond), readyAgain.Sub(downAt).Round(time.Millisecond), reasons)
}

// peek returns what the watch saw so far without stopping it.
func (w *readinessWatch) peek() (noLeader, readyAgain time.Time, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.noLeader, w.readyAgain, len(w.reasons)
}

// lateQueue opens the fault suite's R3 queue through its own client.
func lateQueue(t *testing.T, url string) *queue.Queue {
	c := connectClient(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	q, err := c.Queue(ctx, "faults", faultQueueConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// errKind names the sentinel an enqueue error wraps.
func errKind(err error) string {
	switch {
	case errors.Is(err, queue.ErrNoLeader):
		return "ErrNoLeader"
	case errors.Is(err, queue.ErrNotConfirmed):
		return "ErrNotConfirmed"
	case errors.Is(err, queue.ErrDuplicateInProgress):
		return "ErrDuplicateInProgress"
	}
	return err.Error()
}

// colocateConsumer moves the leadership of stream's consumer to server
// (a leader step-down with a preferred placement), and waits until the
// consumer reports it with both replicas current.
func colocateConsumer(t *testing.T, url, stream, server string) {
	t.Helper()
	c := connectClient(t, url)
	js := c.JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for n := range s.ConsumerNames(ctx).Name() {
		name = n
	}
	if name == "" {
		t.Fatalf("stream %s has no consumer", stream)
	}
	leader := func() (string, int) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		cons, err := s.Consumer(rctx, name)
		if err != nil {
			return "", 0
		}
		info, err := cons.Info(rctx)
		if err != nil || info.Cluster == nil {
			return "", 0
		}
		current := 0
		for _, r := range info.Cluster.Replicas {
			if r.Current {
				current++
			}
		}
		return info.Cluster.Leader, current
	}
	if l, _ := leader(); l != server {
		subj := fmt.Sprintf("$JS.API.CONSUMER.LEADER.STEPDOWN.%s.%s", stream, name)
		body := fmt.Sprintf(`{"placement":{"preferred":%q}}`, server)
		if !waitFor(func() bool {
			resp, err := c.Conn().Request(subj, []byte(body), 2*time.Second)
			return err == nil && strings.Contains(string(resp.Data), `"success":true`)
		}, waitTimeout) {
			t.Fatalf("consumer %s of %s: leadership never moved to %s", name, stream, server)
		}
	}
	if !waitFor(func() bool { l, cur := leader(); return l == server && cur == 2 }, waitTimeout) {
		t.Fatalf("consumer %s of %s is not led by %s with two current replicas", name, stream, server)
	}
}
