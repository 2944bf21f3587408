package startup

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitTimeout = 20 * time.Second

type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *logBuf) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func testOptions() (Options, *logBuf) {
	buf := &logBuf{}
	return Options{Logger: slog.New(slog.NewTextHandler(buf, nil)), KillGrace: 2 * time.Second}, buf
}

func sh(name string, kind Kind, script string) Task {
	return Task{Name: name, Kind: kind, Command: []string{"sh", "-c", script}}
}

// gone reports whether pid no longer runs (a zombie left for an init that
// does not reap counts as gone).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// waitGone waits until pid is gone. /proc offers no event to wait on, so
// this polls, with a deadline.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFile waits until path exists and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never written", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(waitFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// Simple tasks run in order, each after the previous exited 0; a failing
// one stops the sequence and names itself with its exit code.
func TestSimpleTasksInOrderAndFailure(t *testing.T) {
	dir := t.TempDir()
	opts, logs := testOptions()
	tasks := []Task{
		sh("first", Simple, `echo one >> order; sleep 0.1; echo first-done >> order`),
		sh("second", Simple, `echo two >> order`),
		sh("broken", Simple, `echo "bad things" >&2; exit 3`),
		sh("never", Simple, `touch never-ran`),
	}
	for n := range tasks {
		tasks[n].Dir = dir
	}
	r, err := Start(context.Background(), tasks, opts)
	var te *TaskError
	if !errors.As(err, &te) || te.Task != "broken" || te.ExitCode != 3 {
		t.Fatalf("Start = %v; want a TaskError for broken with exit code 3", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "order")); string(b) != "one\nfirst-done\ntwo\n" {
		t.Fatalf("order = %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "never-ran")); err == nil {
		t.Fatal("the task after the failed one ran")
	}
	res := r.Results()
	if res[2].State != StateFailed || *res[2].ExitCode != 3 || res[3].State != StateNotStarted || res[0].State != StateExited {
		t.Fatalf("results = %+v", res)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="bad things" task=broken stream=stderr`) {
		t.Fatalf("stderr line not logged at ERROR:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="startup task ended" task=broken state=failed exit_code=3`) {
		t.Fatalf("the failed task's end not logged at ERROR:\n%s", logs.String())
	}
}

// Output lines are logged at INFO (stdout) and ERROR (stderr); Env reaches
// the task, task env winning over Options.Env.
func TestOutputAndEnvironment(t *testing.T) {
	opts, logs := testOptions()
	opts.Env = []string{"CLOUDROLE_ROLE=orders", "SHARED=from-host"}
	task := sh("env", Simple, `echo "role=$CLOUDROLE_ROLE shared=$SHARED own=$OWN"; echo oops >&2`)
	task.Env = map[string]string{"OWN": "mine", "SHARED": "from-task"}
	r, err := Start(context.Background(), []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, `level=INFO msg="role=orders shared=from-task own=mine" task=env stream=stdout`) {
		t.Fatalf("stdout line missing or wrong:\n%s", out)
	}
	if !strings.Contains(out, `level=ERROR msg=oops task=env stream=stderr`) {
		t.Fatalf("stderr line missing:\n%s", out)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A simple task past its timeout is killed with its children and fails
// the start.
func TestSimpleTimeout(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	task := sh("slow", Simple, `sleep 1000 & echo $! > child; wait`)
	task.Dir, task.Timeout = dir, 300*time.Millisecond
	r, err := Start(context.Background(), []Task{task}, opts)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Start = %v; want ErrTimeout", err)
	}
	if res := r.Results()[0]; res.State != StateTimeout {
		t.Fatalf("state = %s", res.State)
	}
	waitGone(t, readPid(t, filepath.Join(dir, "child")))
}

// A background task and what it spawned are gone after Stop.
func TestBackgroundStopsWholeGroup(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	task := sh("agent", Background, `sleep 1000 & echo $! > child; echo $$ > self; wait`)
	task.Dir = dir
	r, err := Start(context.Background(), []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	child, self := readPid(t, filepath.Join(dir, "child")), readPid(t, filepath.Join(dir, "self"))
	if res := r.Results()[0]; res.State != StateRunning {
		t.Fatalf("state before stop = %s", res.State)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitGone(t, self)
	waitGone(t, child)
	if res := r.Results()[0]; res.State != StateStopped {
		t.Fatalf("state after stop = %s", res.State)
	}
}

// A background task that ignores SIGTERM is killed after the grace.
func TestBackgroundIgnoringTermIsKilled(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	opts.KillGrace = 200 * time.Millisecond
	task := sh("stubborn", Background, `trap '' TERM; echo ready > ready; while :; do sleep 0.05; done`)
	task.Dir = dir
	r, err := Start(context.Background(), []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "ready"))
	r.Stop(context.Background())
	if res := r.Results()[0]; res.State != StateKilled {
		t.Fatalf("state = %s; want killed", res.State)
	}
}

// The SIGTERM→SIGKILL grace is capped by the stop's deadline: a background
// task that ignores SIGTERM is killed with time to spare, not at the
// deadline (where the host would force its exit).
func TestBackgroundGraceCappedByDeadline(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	opts.KillGrace = 5 * time.Second
	task := sh("stubborn", Background, `trap '' TERM; echo ready > ready; while :; do sleep 0.05; done`)
	task.Dir = dir
	r, err := Start(context.Background(), []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "ready"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Stop used the whole deadline: the 5s grace was not capped")
	}
	if res := r.Results()[0]; res.State != StateKilled {
		t.Fatalf("state = %s; want killed", res.State)
	}
}

// A background task stopped with the instance ended normally: INFO, not
// ERROR; one killed after ignoring SIGTERM is a warning.
func TestEndLogLevels(t *testing.T) {
	dir := t.TempDir()
	opts, logs := testOptions()
	opts.KillGrace = 200 * time.Millisecond
	tasks := []Task{
		sh("agent", Background, `echo ready > ready-a; while :; do sleep 0.05; done`),
		sh("stubborn", Background, `trap '' TERM; echo ready > ready-s; while :; do sleep 0.05; done`),
	}
	for n := range tasks {
		tasks[n].Dir = dir
	}
	r, err := Start(context.Background(), tasks, opts)
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "ready-a"))
	waitFile(t, filepath.Join(dir, "ready-s"))
	r.Stop(context.Background())
	for _, want := range []string{
		`level=INFO msg="startup task ended" task=agent state=stopped`,
		`level=WARN msg="startup task ended" task=stubborn state=killed`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

// Stop waits for a foreground task to exit by itself.
func TestForegroundDelaysStop(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	task := sh("flush", Foreground, `echo ready > ready; while [ ! -f release ]; do sleep 0.01; done; echo done > exited`)
	task.Dir = dir
	r, err := Start(context.Background(), []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "ready"))
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(context.Background()) }()
	if w := r.Waiting(); len(w) != 1 || w[0] != "flush" {
		t.Fatalf("Waiting = %v", w)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while the foreground task runs", err)
	default:
	}
	os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "exited")); err != nil {
		t.Fatal("Stop returned before the task exited")
	}
	if res := r.Results()[0]; res.State != StateExited || *res.ExitCode != 0 {
		t.Fatalf("result = %+v", res)
	}
}

// A foreground task that never exits is killed at the deadline, and Stop
// names it.
func TestForegroundKilledAtDeadline(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	task := sh("forever", Foreground, `echo $$ > self; while :; do sleep 0.05; done`)
	task.Dir = dir
	r, err := Start(context.Background(), []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	self := readPid(t, filepath.Join(dir, "self"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := r.Stop(ctx); err == nil || !strings.Contains(err.Error(), "forever") {
		t.Fatalf("Stop = %v; want an error naming the task", err)
	}
	waitGone(t, self)
}

// Cancelling the start during a simple task kills it and its children and
// everything started before it.
func TestCancelDuringSimpleTask(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	bg := sh("agent", Background, `echo $$ > agent; while :; do sleep 0.05; done`)
	slow := sh("install", Simple, `sleep 1000 & echo $! > child; wait`)
	bg.Dir, slow.Dir = dir, dir
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := Start(ctx, []Task{bg, slow}, opts); done <- err }()
	child := readPid(t, filepath.Join(dir, "child"))
	agent := readPid(t, filepath.Join(dir, "agent"))
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("Start = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Start did not return after cancel")
	}
	waitGone(t, child)
	waitGone(t, agent)
}

// A missing command fails clearly, naming the task and the command.
func TestMissingCommand(t *testing.T) {
	opts, logs := testOptions()
	defer func() {
		if !strings.Contains(logs.String(), `level=ERROR msg="startup task could not start" task=tool`) {
			t.Errorf("no log line for the task that could not start:\n%s", logs.String())
		}
	}()
	_, err := Start(context.Background(), []Task{{Name: "tool", Kind: Simple, Command: []string{"no-such-command-xyz"}}}, opts)
	var te *TaskError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), `"tool"`) || !strings.Contains(err.Error(), "no-such-command-xyz") {
		t.Fatalf("err = %v", err)
	}
}

// Kill never blocks and leaves nothing.
func TestKill(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions()
	task := sh("agent", Foreground, `sleep 1000 & echo $! > child; wait`)
	task.Dir = dir
	r, err := Start(context.Background(), []Task{task}, opts)
	if err != nil {
		t.Fatal(err)
	}
	child := readPid(t, filepath.Join(dir, "child"))
	r.Kill()
	r.Kill()
	waitGone(t, child)
	r.Stop(context.Background())
}

func TestValidate(t *testing.T) {
	cases := map[string][]Task{
		"name is required":    {{Kind: Simple, Command: []string{"x"}}},
		"used twice":          {{Name: "a", Kind: Simple, Command: []string{"x"}}, {Name: "a", Kind: Simple, Command: []string{"x"}}},
		"is not simple":       {{Name: "a", Kind: "sometimes", Command: []string{"x"}}},
		"command is required": {{Name: "a", Kind: Simple}},
		"negative timeout":    {{Name: "a", Kind: Simple, Command: []string{"x"}, Timeout: -1}},
	}
	for want, tasks := range cases {
		if err := Validate(tasks); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want %q", err, want)
		}
	}
}

// TestHelperHost is not a test: it is the host process that
// TestHostKilledTakesTasksAlong starts and SIGKILLs. It starts a background
// task that writes its pid, then waits to be killed.
func TestHelperHost(t *testing.T) {
	dir := os.Getenv("CLOUDROLE_STARTUP_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	task := sh("agent", Background, `echo $$ > pid.tmp && mv pid.tmp pid; while :; do sleep 0.05; done`)
	task.Dir = dir
	if _, err := Start(context.Background(), []Task{task}, Options{}); err != nil {
		t.Fatal(err)
	}
	select {} // until SIGKILLed
}

// A host that is SIGKILLed cannot stop its tasks; on Linux the kernel
// kills them for it.
func TestHostKilledTakesTasksAlong(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signals are Linux only")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHost$")
	cmd.Env = append(os.Environ(), "CLOUDROLE_STARTUP_HELPER_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFile(t, filepath.Join(dir, "pid"))
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if gone(pid) {
		t.Fatal("the task is not running")
	}
	t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) }) // were it left behind
	cmd.Process.Kill()
	cmd.Wait()
	waitGone(t, pid)
}
