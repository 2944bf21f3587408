package cloudrole_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
)

// jobsCLI runs "testrole jobs ARGS --config cfg" and returns its output and
// exit code.
func jobsCLI(t *testing.T, cfg string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testroleBin, append(append([]string{"jobs"}, args...), "--config", cfg)...)
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("jobs %v did not end", args)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// mustCLI is jobsCLI that must exit 0.
func mustCLI(t *testing.T, cfg string, args ...string) string {
	t.Helper()
	out, errs, code := jobsCLI(t, cfg, args...)
	if code != 0 {
		t.Fatalf("jobs %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// runJob starts a run with the CLI, retrying while the role has not yet
// published its jobs.
func runJob(t *testing.T, cfg string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		out, errs, code := jobsCLI(t, cfg, append([]string{"run"}, args...)...)
		if code == 0 {
			return strings.TrimSpace(out)
		}
		if !strings.Contains(errs, "unknown job") || time.Now().After(deadline) {
			t.Fatalf("jobs run %v: exit %d\n%s%s", args, code, out, errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const jobsConfig = `jobs:
  heartbeat: 200ms
  fail_after: 2s
  programs:
    - name: hello
      command: [sh, -c, 'echo "hello $*"; echo "to stderr" >&2', hello]
    - name: forever
      command: [sh, -c, 'echo started; while :; do sleep 0.05; done']
      stopping_wait_time: 300ms
nats:
  sync: 1m
settings:
  GoJob: true
`

// A jobs session on the command line of a running role: run prints the
// run's ID; wait, get, receive (once, then --keep), history and the job
// list agree; stop ends a run Stopped. Bad usage is exit 2, an unknown
// job exit 1.
func TestJobsVerbsSession(t *testing.T) {
	cfg := roleConfig(t, jobsConfig)
	p := startProc(t, "--config", cfg)
	p.waitReady()
	p.waitLine(regexp.MustCompile(`msg="jobs: connected"`))

	id := runJob(t, cfg, "hello", "big", "world")
	if !regexp.MustCompile(`^hello\.\d{8}T\d{6}Z-[0-9a-f]{6}$`).MatchString(id) {
		t.Fatalf("run printed %q; want a run ID", id)
	}
	if out := mustCLI(t, cfg, "wait", id); !strings.Contains(out, id+": Completed") {
		t.Fatalf("wait: %q", out)
	}
	get := mustCLI(t, cfg, "get", id)
	for _, want := range []string{"State:", "Completed", "HasMoreData:", "true", "Trigger:", "manual", `["big" "world"]`, "ExitCode:", "Output:", "2 lines"} {
		if !strings.Contains(get, want) {
			t.Errorf("get lacks %q:\n%s", want, get)
		}
	}
	recv := mustCLI(t, cfg, "receive", id)
	if !strings.Contains(recv, "INFO  hello big world") || !strings.Contains(recv, "ERROR to stderr") || strings.Count(recv, "\n") != 2 {
		t.Fatalf("receive: %q", recv)
	}
	if again := mustCLI(t, cfg, "receive", id); again != "" {
		t.Fatalf("second receive: %q; want nothing new", again)
	}
	if keep := mustCLI(t, cfg, "receive", id, "--keep"); keep != recv {
		t.Fatalf("receive --keep: %q; want %q", keep, recv)
	}
	if get := mustCLI(t, cfg, "get", id); !strings.Contains(get, "HasMoreData: false") {
		t.Fatalf("get after receive:\n%s", get)
	}

	goID := runJob(t, cfg, "gojob", "fail")
	if out, _, code := jobsCLI(t, cfg, "wait", goID); code != lifecycle.ExitError || !strings.Contains(out, "Failed (asked to fail)") {
		t.Fatalf("wait on a failing Go job: exit %d %q", code, out)
	}

	long := runJob(t, cfg, "forever")
	if out := mustCLI(t, cfg, "stop", long); !strings.Contains(out, long+": Stopped (stopped on request") {
		t.Fatalf("stop: %q", out)
	}
	if out := mustCLI(t, cfg, "receive", long); !strings.Contains(out, "started") {
		t.Fatalf("output of the stopped run: %q", out)
	}

	hist := mustCLI(t, cfg, "history", "hello")
	if !strings.Contains(hist, id) || !strings.Contains(hist, "Completed") || !strings.Contains(hist, "manual") {
		t.Fatalf("history:\n%s", hist)
	}
	list := mustCLI(t, cfg)
	for _, want := range []string{"hello", "forever", "gojob", "Stopped"} {
		if !strings.Contains(list, want) {
			t.Errorf("jobs lacks %q:\n%s", want, list)
		}
	}

	for _, args := range [][]string{{"run"}, {"get"}, {"get", "a", "b"}, {"explode"}, {"receive", "--keep"}} {
		if _, errs, code := jobsCLI(t, cfg, args...); code != lifecycle.ExitUsage || !strings.Contains(errs, "usage:") {
			t.Errorf("jobs %v: exit %d\n%s", args, code, errs)
		}
	}
	if _, errs, code := jobsCLI(t, cfg, "get", "not-an-id"); code != lifecycle.ExitUsage || !strings.Contains(errs, "bad run id") {
		t.Errorf("get not-an-id: exit %d %s", code, errs)
	}
	if _, errs, code := jobsCLI(t, cfg, "run", "nope"); code != lifecycle.ExitError || !strings.Contains(errs, `unknown job: "nope"`) {
		t.Errorf("run nope: exit %d %s", code, errs)
	}
	if _, errs, code := jobsCLI(t, cfg, "get", "hello.20200101T000000Z-000000"); code != lifecycle.ExitError || !strings.Contains(errs, "run not found") {
		t.Errorf("get of an unknown run: exit %d %s", code, errs)
	}
}

// With the role not running, the jobs verbs say so at once and start no
// NATS server of their own.
func TestJobsVerbsWithoutRunningRole(t *testing.T) {
	cfg := roleConfig(t, jobsConfig)
	began := time.Now()
	_, errs, code := jobsCLI(t, cfg, "run", "hello")
	if code != lifecycle.ExitError || !strings.Contains(errs, "is the role running") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("took %v", took)
	}
}

// A bad job folder stops validate and run with exit 3, naming the file,
// line and key, before anything starts.
func TestBadJobFolderRefusedBeforeStart(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "triggered", "report")
	os.MkdirAll(job, 0o755)
	os.WriteFile(filepath.Join(job, "run.sh"), []byte("echo hi\n"), 0o644)
	os.WriteFile(filepath.Join(job, "settings.job"), []byte("{\n  \"schedule\": \"0 * * * * *\",\n  \"is_singelton\": true\n}\n"), 0o644)
	marker := filepath.Join(t.TempDir(), "started")
	cfg := roleConfig(t, "jobs:\n  dir: "+dir+"\nsettings:\n  Marker: "+marker+"\n")
	want := filepath.Join(job, "settings.job") + ":3: is_singelton: unknown key (did you mean is_singleton?)"
	for _, verb := range []string{"validate", "run"} {
		cmd := exec.Command(testroleBin, verb, "--config", cfg)
		cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != lifecycle.ExitConfig || !strings.Contains(string(out), want) {
			t.Errorf("%s: exit %d; want %d and %q in:\n%s", verb, code, lifecycle.ExitConfig, want, out)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("OnStart ran despite the bad job folder")
	}
}

// A role SIGKILLed mid-run and started again on the same data dir: the run
// reads Disconnected, then Failed (the new process's sweeper), naming the
// instance; its output up to the kill survives the restart.
func TestKilledRunDisconnectedThenFailedAcrossRestart(t *testing.T) {
	cfg := roleConfig(t, jobsConfig)
	p := startProc(t, "--config", cfg)
	p.waitReady()
	p.waitLine(regexp.MustCompile(`msg="jobs: connected"`))
	id := runJob(t, cfg, "forever")
	if !testutil.Poll(func() bool { return strings.Contains(mustCLI(t, cfg, "get", id), "Running") }, waitTimeout) {
		t.Fatal("the run never ran")
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.exit(time.Now())

	p2 := startProc(t, "--config", cfg)
	p2.waitReady()
	// The new process starts its embedded server when its jobs connect,
	// just after it is ready.
	p2.waitLine(regexp.MustCompile(`msg="jobs: connected"`))
	sawDisconnected := false
	var get string
	if !testutil.Poll(func() bool {
		get = mustCLI(t, cfg, "get", id)
		sawDisconnected = sawDisconnected || strings.Contains(get, "Disconnected")
		return strings.Contains(get, "Failed")
	}, waitTimeout) {
		t.Fatalf("never Failed:\n%s", get)
	}
	if !strings.Contains(get, "stopped answering") || !strings.Contains(get, "testrole_") {
		t.Fatalf("failed run:\n%s", get)
	}
	if !sawDisconnected {
		t.Error("never read Disconnected before Failed")
	}
	if out := mustCLI(t, cfg, "receive", id, "--keep"); !strings.Contains(out, "INFO  started") {
		t.Fatalf("output after the restart: %q", out)
	}
}

// Two role processes on one NATS server (external to both): each triggered
// run executes on exactly one of them; the run of the one SIGKILLed
// mid-run turns Disconnected, then Failed by the survivor's sweeper.
func TestTwoInstancesOnOneNATS(t *testing.T) {
	srv, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m", Listen: "127.0.0.1:-1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	qc, err := srv.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	url := srv.Status().URL
	instance := func(name string) (string, *proc) {
		cfg := roleConfig(t, fmt.Sprintf(`nats: {url: %q}
jobs:
  heartbeat: 200ms
  fail_after: 2s
  programs:
    - name: where
      concurrency: 4
      command: [sh, -c, 'echo "ran on $CLOUDROLE_INSTANCE_ID"; sleep 0.02']
    - name: forever
      command: [sh, -c, 'echo "started on $CLOUDROLE_INSTANCE_ID"; while :; do sleep 0.05; done']
`, url))
		p := startProcEnv(t, []string{"CLOUDROLE_ROLE_INSTANCE_ID=" + name}, "--config", cfg)
		// Ready once its jobs have connected to the server.
		p.waitLine(regexp.MustCompile(`msg="jobs: connected"`))
		p.waitReady()
		return cfg, p
	}
	cfgA, pa := instance("a")
	_, pb := instance("b")
	c, err := jobs.NewClient(context.Background(), qc, jobs.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var ids []string
	ids = append(ids, runJob(t, cfgA, "where"))
	for range 29 {
		id, err := c.Start(ctx, "where", jobs.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	on := map[string]int{}
	for _, id := range ids {
		r, err := c.Wait(ctx, id)
		if err != nil || r.State != jobs.Completed {
			t.Fatalf("run %s: %+v %v", id, r, err)
		}
		lines, _ := c.Receive(ctx, id, jobs.ReceiveOptions{Keep: true})
		if len(lines) != 1 || lines[0].Text != "ran on "+r.Instance {
			t.Fatalf("run %s on %s printed %+v: it ran more than once, or elsewhere", id, r.Instance, lines)
		}
		on[r.Instance]++
	}
	t.Logf("runs per instance: %v", on)

	id, err := c.Start(ctx, "forever", jobs.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var r jobs.Run
	if !testutil.Poll(func() bool {
		if r, err = c.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		return r.State == jobs.Running && r.Lines > 0
	}, waitTimeout) {
		t.Fatalf("the run never printed while running: %+v", r)
	}
	victim, survivor := pa, pb
	if r.Instance == "b" {
		victim, survivor = pb, pa
	}
	victim.cmd.Process.Signal(syscall.SIGKILL)
	victim.exit(time.Now())
	sawDisconnected := false
	if !testutil.Poll(func() bool {
		if r, err = c.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		sawDisconnected = sawDisconnected || r.State == jobs.Disconnected
		return r.State.Terminal()
	}, waitTimeout) {
		t.Fatalf("the killed run never ended: %+v", r)
	}
	if r.State != jobs.Failed || !sawDisconnected || !strings.Contains(r.Error, "instance "+r.Instance+" stopped answering") {
		t.Fatalf("killed run: %+v (saw Disconnected: %v)", r, sawDisconnected)
	}
	_ = survivor
}
