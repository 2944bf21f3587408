package faults

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
)

// Two role processes on one data dir (one embedded store): the second
// fails at once with code 1, naming the store and the first's PID, before
// it starts anything — no health endpoint, no startup task. Once the first
// is SIGKILLed, a third starts normally: the OS released the lock with the
// process, no stale lock is left.
func TestSecondProcessOnOneStoreRefused(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "nats")
	marker := func(n int) string { return filepath.Join(dir, fmt.Sprintf("startup-%d.ran", n)) }

	first := startOnStore(t, dir, marker(1))
	waitServing(t, first)
	pid := first.cmd.Process.Pid
	// Tools in other processes find the server through the store's lock.
	url, err := queue.EmbeddedURL(store)
	if err != nil {
		t.Fatalf("EmbeddedURL of the first process's store: %v", err)
	}
	enqueueJobs(t, url, "faults", 10, 1, "job")

	began := time.Now()
	second := startOnStore(t, dir, marker(2))
	if !waitFor(func() bool { return exited(second) || exists(marker(2)) }, waitTimeout) {
		t.Fatalf("the second process neither exited nor ran its startup task; logs:\n%s", second.logs)
	}
	if !exited(second) {
		t.Fatalf("the second process on the same store ran its startup task; logs:\n%s", second.logs)
	}
	took := time.Since(began)
	if code := second.cmd.ProcessState.ExitCode(); code != lifecycle.ExitError {
		t.Fatalf("second process exit code %d, want %d; logs:\n%s", code, lifecycle.ExitError, second.logs)
	}
	logs := second.logs.String()
	if !strings.Contains(logs, store) || !strings.Contains(logs, "process "+strconv.Itoa(pid)) || !strings.Contains(logs, url) {
		t.Fatalf("the second process's error does not name the store %s, the holder's PID %d and its URL %s:\n%s", store, pid, url, logs)
	}
	if healthLine.MatchString(logs) || exists(marker(2)) {
		t.Fatalf("the second process started something (health endpoint or startup task):\n%s", logs)
	}

	first.kill()
	third := startOnStore(t, dir, marker(3))
	waitServing(t, third)
	if !exists(marker(3)) {
		t.Fatal("the third process serves the queue but its startup task did not run")
	}
	if _, err := queue.EmbeddedURL(store); err != nil {
		t.Fatalf("EmbeddedURL of the third process's store: %v", err)
	}
	third.stop()
	t.Logf("second process refused with exit %d in %v (%s); a new process runs after SIGKILL of the holder",
		second.cmd.ProcessState.ExitCode(), took.Round(time.Millisecond), strings.TrimSpace(logs))
}

// startOnStore runs faultrole with the embedded server under dir and a
// simple startup task that creates marker, so the test sees whether the
// process started anything.
func startOnStore(t *testing.T, dir, marker string) *worker {
	t.Helper()
	cfg := filepath.Join(dir, fmt.Sprintf("role-%d.yaml", time.Now().UnixNano()))
	effects := filepath.Join(dir, "effects.log")
	body := fmt.Sprintf(`role: {name: faultrole, data_dir: %q}
health: {addr: "127.0.0.1:0"}
host: {stop_timeout: 30s}
nats: {sync: 1m}
startup:
  - {name: mark, type: simple, command: [touch, %q]}
settings: {Effects: %q}
`, dir, marker, effects)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &worker{t: t, exited: make(chan struct{}), logs: &testutil.Buffer{}, health: make(chan string, 1), effects: effects}
	w.cmd = exec.Command(faultroleBin, "run", "--config", cfg)
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
			w.logs.Write([]byte(sc.Text() + "\n"))
		}
		w.cmd.Wait()
	}()
	t.Cleanup(w.kill)
	return w
}

// waitServing waits until w's role has started its embedded server (the
// role connects in Run, after the startup tasks and OnStart).
func waitServing(t *testing.T, w *worker) {
	t.Helper()
	if !waitFor(func() bool {
		return exited(w) || strings.Contains(w.logs.String(), "embedded NATS server started")
	}, waitTimeout) || exited(w) {
		t.Fatalf("the role never started its embedded server; logs:\n%s", w.logs)
	}
}

func exited(w *worker) bool {
	select {
	case <-w.exited:
		return true
	default:
		return false
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
