package faults

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/queue"
)

// faultQueueConfig mirrors internal/faultrole's queueConfig: the enqueuer
// may create the queue before the workers start, and Queue refuses a
// declaration that differs from the stored one.
func faultQueueConfig(replicas int) queue.Config {
	return queue.Config{AckWait: 2 * time.Second, RetryBase: 100 * time.Millisecond, RetryMax: time.Second, Replicas: replicas}
}

// freePort returns a loopback port that was free a moment ago, so a
// server can be restarted on the same address.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// natsServer is an in-process nats-server with JetStream that can be shut
// down and started again with the same options (address and store).
type natsServer struct {
	t    *testing.T
	opts server.Options
	mu   sync.Mutex
	srv  *server.Server
}

func newNATSServer(t *testing.T, name string, port int, storeDir string) *natsServer {
	return &natsServer{t: t, opts: server.Options{
		ServerName: name, Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir,
		NoLog: true, NoSigs: true, SyncInterval: time.Minute,
	}}
}

// start starts the server and waits until it accepts clients.
func (s *natsServer) start() {
	s.t.Helper()
	s.launch()
	if !s.server().ReadyForConnections(waitTimeout) {
		s.t.Fatalf("nats-server %s did not start", s.opts.ServerName)
	}
}

// launch starts the server without waiting for it, so that the servers of
// a cluster come up together.
func (s *natsServer) launch() {
	s.t.Helper()
	o := s.opts
	srv, err := server.NewServer(&o)
	if err != nil {
		s.t.Fatal(err)
	}
	srv.Start()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	s.t.Cleanup(s.stop)
}

// server returns the running server, or nil while it is stopped.
func (s *natsServer) server() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

func (s *natsServer) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

func (s *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }

// worker is a faultrole process.
type worker struct {
	t       *testing.T
	cmd     *exec.Cmd
	exited  chan struct{}
	logs    *testutil.Buffer
	health  chan string // the health address, once logged
	effects string
}

var healthLine = regexp.MustCompile(`msg="health endpoint listening" addr=(\S+)`)

// startWorker runs faultrole against an external server at url, recording
// into effects.
func startWorker(t *testing.T, dir, url, effects string, settings map[string]string) *worker {
	t.Helper()
	return startRole(t, dir, fmt.Sprintf("{url: %q}", url), effects, settings)
}

// startRole runs faultrole with the given nats config section (YAML flow
// map), recording into effects. Its data dir is dir, so a restarted role
// with an embedded server finds its store again.
func startRole(t *testing.T, dir, natsYAML, effects string, settings map[string]string) *worker {
	t.Helper()
	return startBinary(t, faultroleBin, dir, natsYAML, effects, settings)
}

// startBinary runs a role binary (faultrole, durablerole) as startRole
// does.
func startBinary(t *testing.T, bin, dir, natsYAML, effects string, settings map[string]string) *worker {
	t.Helper()
	var set strings.Builder
	for k, v := range settings {
		fmt.Fprintf(&set, "  %s: %q\n", k, v)
	}
	cfg := filepath.Join(dir, fmt.Sprintf("worker-%d.yaml", time.Now().UnixNano()))
	body := fmt.Sprintf("role: {name: faultrole, data_dir: %q}\nhealth: {addr: \"127.0.0.1:0\"}\nhost: {stop_timeout: 30s}\nnats: %s\nsettings:\n  Effects: %q\n%s",
		dir, natsYAML, effects, set.String())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &worker{t: t, exited: make(chan struct{}), logs: &testutil.Buffer{}, health: make(chan string, 1), effects: effects}
	w.cmd = exec.Command(bin, "run", "--config", cfg)
	w.cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	stderr, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			w.logs.Write([]byte(line + "\n"))
			if m := healthLine.FindStringSubmatch(line); m != nil {
				select {
				case w.health <- m[1]:
				default:
				}
			}
		}
		w.cmd.Wait()
	}()
	t.Cleanup(func() { w.kill() })
	return w
}

// kill SIGKILLs the worker and waits until it is gone.
func (w *worker) kill() {
	w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.exited
}

// stop sends SIGTERM and waits for the exit.
func (w *worker) stop() {
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(waitTimeout):
		w.t.Errorf("worker did not stop on SIGTERM; logs:\n%s", w.logs)
		w.kill()
	}
}

// effects counts how many times each job ID was recorded across files.
func effects(t *testing.T, files ...string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range strings.Split(string(b), "\n") {
			if id != "" {
				seen[id]++
			}
		}
	}
	return seen
}

// connectClient connects a queue client to url, closed at the test's end.
func connectClient(t *testing.T, url string) *queue.Client {
	t.Helper()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enqueueJobs enqueues n jobs with IDs prefix-0..n-1 and returns the IDs.
func enqueueJobs(t *testing.T, url, name string, n, replicas int, prefix string) []string {
	t.Helper()
	c := connectClient(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	q, err := c.Queue(ctx, name, faultQueueConfig(replicas))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, n)
	const batch = 500
	for first := 0; first < n; first += batch {
		msgs := make([]queue.Message, 0, batch)
		for i := first; i < min(first+batch, n); i++ {
			id := fmt.Sprintf("%s-%d", prefix, i)
			ids = append(ids, id)
			msgs = append(msgs, queue.Message{Payload: []byte(id), Options: []queue.EnqueueOption{queue.WithID(id)}})
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
	}
	return ids
}

// tally compares recorded effects with the enqueued IDs.
type tally struct{ jobs, done, lost, duplicates int }

func count(ids []string, seen map[string]int) tally {
	tl := tally{jobs: len(ids)}
	for _, id := range ids {
		switch n := seen[id]; {
		case n == 0:
			tl.lost++
		default:
			tl.done++
			tl.duplicates += n - 1
		}
	}
	return tl
}

// waitDone waits until every ID was recorded at least once, calling each
// (if set) with the tally on every poll, and returns the final tally and
// the longest time without progress.
func waitDone(t *testing.T, ids []string, limit time.Duration, each func(tally), files func() []string) (tally, time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	lastDone, lastProgress, longest := -1, time.Now(), time.Duration(0)
	for {
		tl := count(ids, effects(t, files()...))
		now := time.Now()
		if tl.done != lastDone {
			lastDone, lastProgress = tl.done, now
		} else if gap := now.Sub(lastProgress); gap > longest {
			longest = gap
		}
		if each != nil {
			each(tl)
		}
		if tl.lost == 0 {
			return tl, longest
		}
		if now.After(deadline) {
			t.Fatalf("after %v: %+v (lost = not yet processed)", limit, tl)
		}
		time.Sleep(20 * time.Millisecond) // polling interval over files
	}
}
