package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
)

// The demo, built and run for real with a small batch: it starts the
// embedded server, ships every order (poison ones dead-lettered), prints
// the summary and, with -exit-when-done, stops cleanly with code 0.
func TestDemoRunsToCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	bin, dir := buildDemo(t)
	cfg := demoConfig(t, dir, `{Orders: "300", FlakyPercent: "10", PoisonPercent: "5"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-exit-when-done", "--config", cfg)
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	m := regexp.MustCompile(`shipped\s+high (\d+), normal (\d+), low (\d+)[\s\S]*dead\s+(\d+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no summary in the output:\n%s", &stdout)
	}
	total := 0
	for _, n := range m[1:] {
		v, _ := strconv.Atoi(n) // the regexp matched digits
		total += v
	}
	if total != 300 {
		t.Fatalf("summary accounts for %d of 300 orders:\n%s", total, &stdout)
	}
}

// While the demo runs (its embedded server on a free port), the
// dead-letters and requeue verbs find the server through the lock file of
// its store; a second copy of the demo on the same data dir is refused
// with code 1, naming the store.
func TestVerbsFindTheRunningDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	bin, dir := buildDemo(t)
	cfg := demoConfig(t, dir, `{Orders: "20", FlakyPercent: "0", PoisonPercent: "100", SalesReportSeconds: "1"}`)
	var stdout, stderr testutil.Buffer
	demo := exec.Command(bin, "--config", cfg)
	demo.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	demo.Stdout, demo.Stderr = &stdout, &stderr
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	t.Cleanup(func() {
		demo.Process.Kill()
		<-exited
	})
	// The summary: every order dead-lettered, and the role keeps running.
	if !testutil.Poll(func() bool { return strings.Contains(stdout.String(), "dead      20 poison orders") }, time.Minute) {
		t.Fatalf("no summary with 20 dead orders\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	}

	// The operator verbs every role binary has.
	if out, code := verb(t, bin, "queues", "--config", cfg); code != 0 || !regexp.MustCompile(`(?m)^orders\s+\d+ / \d+ / \d+\s+\d+\s+\S+\s+20$`).MatchString(out) {
		t.Fatalf("queues: exit %d\n%s", code, out)
	}
	if out, code := verb(t, bin, "fleet", "--json", "--config", cfg); code != 0 || !strings.Contains(out, `"role": "orders"`) || !strings.Contains(out, `"state": "running"`) {
		t.Fatalf("fleet --json: exit %d\n%s", code, out)
	}
	if out, code := verb(t, bin, "enqueue", "orders", "--priority", "9", "x", "--config", cfg); code != 2 || !strings.Contains(out, "unknown priority") {
		t.Fatalf("enqueue at a level the queue has not: exit %d\n%s", code, out)
	}
	if out, code := verb(t, bin, "purge", "orders", "--config", cfg); code != 2 || !strings.Contains(out, "--yes") {
		t.Fatalf("purge without --yes: exit %d\n%s", code, out)
	}
	// The demo's own verb.
	if out, code := verb(t, bin, "rush", "--config", cfg, "a", "rush", "order"); code != 0 || !strings.Contains(out, "enqueued ") {
		t.Fatalf("rush: exit %d\n%s", code, out)
	}
	// The role's route: an order posted to the health server is enqueued.
	addr := regexp.MustCompile(`msg="health endpoint listening" addr=(\S+)`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("no health address in the log:\n%s", &stderr)
	}
	resp, err := http.Post("http://"+addr[1]+"/orders?priority=high", "text/plain", strings.NewReader("rush order"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(strings.TrimSpace(string(id))) == 0 {
		t.Fatalf("POST /orders = %d %q", resp.StatusCode, id)
	}

	out, code := verb(t, bin, "dead-letters", "orders", "--config", cfg)
	if code != 0 || !strings.Contains(out, "20 dead letters") {
		t.Fatalf("dead-letters: exit %d\n%s", code, out)
	}
	seq := regexp.MustCompile(`(?m)^(\d+)\s`).FindStringSubmatch(out)
	if seq == nil {
		t.Fatalf("no dead letter sequence in:\n%s", out)
	}
	if out, code := verb(t, bin, "requeue", "orders", "--config", cfg, seq[1]); code != 0 || !strings.Contains(out, "re-queued "+seq[1]) {
		t.Fatalf("requeue %s: exit %d\n%s", seq[1], code, out)
	}

	// Work the NATS server schedules: a reminder for later, its status,
	// a cancel from the CLI (twice), a running reminder cancelled, and
	// the recurring sales report every instance declares.
	for _, step := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"remind", "later", "1h", "call", "back"}, 0, "reminder later due at"},
		{[]string{"job", "later"}, 0, "later: scheduled, due"},
		{[]string{"cancel", "later"}, 0, "cancelled later"},
		{[]string{"job", "later"}, 0, "later: cancelled"},
		{[]string{"cancel", "later"}, 1, "already cancelled"},
		{[]string{"cancel", "nobody"}, 1, "not found"},
		{[]string{"remind", "now", "-1s", "x"}, 1, "delay must be positive"},
		{[]string{"remind", "soon", "500ms", "call", "now"}, 0, "reminder soon due at"},
		{[]string{"remind", "slow-1", "1ms", "slow", "export"}, 0, "reminder slow-1 due at"},
		{[]string{"schedules"}, 0, "sales-report  every 1s"},
	} {
		if out, code := verb(t, bin, append(step.args, "--config", cfg)...); code != step.code || !strings.Contains(out, step.says) {
			t.Fatalf("%v: exit %d, want %d saying %q\n%s", step.args, code, step.code, step.says, out)
		}
	}
	logged := func(pattern string) func() bool {
		re := regexp.MustCompile(pattern)
		return func() bool { return re.MatchString(stderr.String()) }
	}
	if !testutil.Poll(logged(`msg="reminder sent" .*id=soon `), 30*time.Second) {
		t.Fatalf("the delayed reminder was never sent\nstderr:\n%s", &stderr)
	}
	if !testutil.Poll(logged(`msg="reminder sent" .*id=sales-report\.\d{8}T\d{6}Z `), 30*time.Second) {
		t.Fatalf("the sales report never fired\nstderr:\n%s", &stderr)
	}
	if !testutil.Poll(func() bool {
		out, _ := verb(t, bin, "job", "slow-1", "--config", cfg)
		return strings.Contains(out, "slow-1: running, due") && strings.Contains(out, "progress")
	}, 30*time.Second) {
		t.Fatal("the slow reminder never showed running with progress")
	}
	if out, code := verb(t, bin, "cancel", "slow-1", "--config", cfg); code != 0 {
		t.Fatalf("cancel of the running reminder: exit %d\n%s", code, out)
	}
	if !testutil.Poll(logged(`msg="queue: job cancelled" .*queue=reminders id=slow-1 .*was_running=true`), 30*time.Second) {
		t.Fatalf("the running reminder was not cancelled\nstderr:\n%s", &stderr)
	}

	out, code = verb(t, bin, "--config", cfg)
	if code != 1 || !strings.Contains(out, filepath.Join(dir, "nats")) || !strings.Contains(out, "process "+strconv.Itoa(demo.Process.Pid)) {
		t.Fatalf("a second copy on the same data dir: exit %d, want 1 naming the store and PID %d\n%s", code, demo.Process.Pid, out)
	}

	if err := demo.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for Cleanup
		if err != nil {
			t.Fatalf("demo after SIGINT: %v\nstderr:\n%s", err, &stderr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("demo did not stop on SIGINT\nstderr:\n%s", &stderr)
	}
	if out, code := verb(t, bin, "dead-letters", "orders", "--config", cfg); code != 1 || !strings.Contains(out, "is the role running") {
		t.Fatalf("dead-letters with the demo stopped: exit %d, want 1 asking whether the role runs\n%s", code, out)
	}
}

// buildDemo builds the demo into a temp dir and returns the binary and
// the dir (the data dir of the test's config).
func buildDemo(t *testing.T) (bin, dir string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "orders")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin, dir
}

// demoConfig writes a config with dir as data dir, a free health port, the
// embedded server on a free port, and the given settings (a YAML flow map).
func demoConfig(t *testing.T, dir, settings string) string {
	t.Helper()
	cfg := filepath.Join(dir, "orders.yaml")
	if err := os.WriteFile(cfg, []byte(`role: {name: orders, data_dir: `+dir+`}
health: {addr: "127.0.0.1:0"}
nats: {listen: "127.0.0.1:-1", sync: 1m}
settings: `+settings+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// verb runs the demo binary with args and returns its combined output and
// exit code.
func verb(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out), 0
}
