//go:build unix

package jobs

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func shJob(name, script string) Job {
	return Job{Name: name, Command: []string{"sh", "-c", script, name}}
}

// A program's run: its arguments, its output lines by stream, its exit
// code; non-zero fails it.
func TestProgramRunArgsOutputExitCode(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"),
		shJob("echo", `echo "args: $*"; echo oops >&2; exit 0`),
		shJob("fail", `echo before; exit 3`),
	)
	c := testClient(t, p)
	id := start(t, c, "echo", "one", "two words")
	r := wait(t, c, id)
	if r.State != Completed || r.ExitCode == nil || *r.ExitCode != 0 {
		t.Fatalf("run = %+v", r)
	}
	lines, _ := c.Receive(ctxFor(t, waitLong), id, ReceiveOptions{Keep: true})
	// stdout and stderr are two pipes: their lines interleave in no set order.
	by := map[Stream][]string{}
	for _, l := range lines {
		by[l.Stream] = append(by[l.Stream], l.Text)
	}
	if !slices.Equal(by[Stdout], []string{"args: one two words"}) || !slices.Equal(by[Stderr], []string{"oops"}) {
		t.Fatalf("lines = %q", texts(lines))
	}
	r = wait(t, c, start(t, c, "fail"))
	if r.State != Failed || r.ExitCode == nil || *r.ExitCode != 3 || r.Error != "exit code 3" {
		t.Fatalf("failing run = %+v", r)
	}
}

// A program's environment: the role identity (Options.Env), the job's own
// variables, and the job and run under cloudrole's and WebJobs' names.
func TestProgramEnvironment(t *testing.T) {
	p := testServer(t)
	o := fast(p, "a")
	o.Env = []string{"CLOUDROLE_ROLE=orders", "CLOUDROLE_INSTANCE_ID=a"}
	o.DataDir = t.TempDir()
	j := shJob("env", `env | grep -E '^(CLOUDROLE_|WEBJOBS_|MINE=)' | sort`)
	j.Env = map[string]string{"MINE": "yes", "WEBJOBS_NAME": "cannot override"}
	startRunner(t, o, j)
	c := testClient(t, p)
	id := start(t, c, "env", "x", "y")
	wait(t, c, id)
	lines, _ := c.Receive(ctxFor(t, waitLong), id, ReceiveOptions{Keep: true})
	env := map[string]string{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l.Text, "=")
		env[k] = v // the last one wins, as for the program
	}
	want := map[string]string{
		"CLOUDROLE_ROLE": "orders", "CLOUDROLE_INSTANCE_ID": "a", "MINE": "yes",
		"CLOUDROLE_JOB_NAME": "env", "CLOUDROLE_JOB_RUN_ID": id, "CLOUDROLE_JOB_TRIGGER": "api",
		"WEBJOBS_NAME": "env", "WEBJOBS_TYPE": "triggered", "WEBJOBS_RUN_ID": id,
		"WEBJOBS_COMMAND_ARGUMENTS": "x y",
		"WEBJOBS_DATA_PATH":         filepath.Join(o.DataDir, "jobs", "triggered", "env"),
		"WEBJOBS_SHUTDOWN_FILE":     filepath.Join(o.DataDir, "jobs", "shutdown", id),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q; want %q", k, env[k], v)
		}
	}
	if fi, err := os.Stat(want["WEBJOBS_DATA_PATH"]); err != nil || !fi.IsDir() {
		t.Errorf("WEBJOBS_DATA_PATH not made: %v", err)
	}
}

// Programs that cannot run fail their run with a clear error; the role
// and the runner carry on.
func TestProgramThatCannotStart(t *testing.T) {
	p := testServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "script"), []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startRunner(t, fast(p, "a"),
		Job{Name: "missing", Command: []string{"no-such-program-xyz"}},
		Job{Name: "noexec", Command: []string{"./script"}, Dir: dir},
		Job{Name: "nofile", Command: []string{"./absent"}, Dir: dir},
	)
	c := testClient(t, p)
	for job, want := range map[string]string{
		"missing": `program "no-such-program-xyz" not found in PATH`,
		"noexec":  "permission denied (is it executable? chmod +x)",
		"nofile":  "no such file or directory",
	} {
		if r := wait(t, c, start(t, c, job)); r.State != Failed || !strings.Contains(r.Error, want) {
			t.Errorf("%s: %+v; want Failed with %q", job, r, want)
		}
	}
}

// Stop ends a program the WebJobs way: its shutdown file is created and
// its process group gets SIGTERM; one that exits then ends Stopped with
// its output kept.
func TestStopProgramShutdownFile(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"), shJob("polite", `trap '' TERM
echo started
while [ ! -f "$WEBJOBS_SHUTDOWN_FILE" ]; do sleep 0.05; done
echo saw the shutdown file`))
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	id := start(t, c, "polite")
	eventually(t, "started", func() bool { r, _ := c.Get(ctx, id); return r.Lines == 1 })
	began := time.Now()
	c.Stop(ctx, id)
	r := wait(t, c, id)
	if r.State != Stopped || r.Error != "stopped on request" || r.ExitCode == nil || *r.ExitCode != 0 {
		t.Fatalf("run = %+v", r)
	}
	if time.Since(began) > 3*time.Second {
		t.Fatalf("took %v: the shutdown file was not seen", time.Since(began))
	}
	lines, _ := c.Receive(ctx, id, ReceiveOptions{Keep: true})
	if got := texts(lines); !slices.Equal(got, []string{"started", "saw the shutdown file"}) {
		t.Fatalf("output = %q", got)
	}
}

// A program that ignores the shutdown file and SIGTERM is SIGKILLed with
// its whole process group after its stopping wait.
func TestStopProgramKilledAfterStoppingWait(t *testing.T) {
	p := testServer(t)
	dir := t.TempDir()
	j := shJob("deaf", `trap '' TERM; sh -c 'trap "" TERM; sleep 1000' & echo $! > `+dir+`/child; echo ready; while :; do sleep 0.05; done`)
	j.StoppingWait = 300 * time.Millisecond
	startRunner(t, fast(p, "a"), j)
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	id := start(t, c, "deaf")
	eventually(t, "ready", func() bool { r, _ := c.Get(ctx, id); return r.Lines == 1 })
	child := readPid(t, filepath.Join(dir, "child"))
	c.Stop(ctx, id)
	r := wait(t, c, id)
	if r.State != Stopped || !strings.Contains(r.Error, "killed: still running 300ms") {
		t.Fatalf("run = %+v", r)
	}
	eventually(t, "the child gone", func() bool { return syscall.Kill(child, 0) != nil })
}

// The instance's stop caps a program's stopping wait at half of the time
// left until the stop deadline, so the run is recorded before it.
func TestInstanceStopCapsStoppingWait(t *testing.T) {
	p := testServer(t)
	j := shJob("stubborn", `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	j.StoppingWait = time.Minute
	r := startRunner(t, fast(p, "a"), j)
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	id := start(t, c, "stubborn")
	eventually(t, "ready", func() bool { run, _ := c.Get(ctx, id); return run.Lines == 1 })
	sctx, cancel := ctxWithTimeout(2 * time.Second)
	defer cancel()
	began := time.Now()
	if err := r.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Fatalf("stop took %v with a 2s deadline", took)
	}
	if run, _ := c.Get(ctx, id); run.State != Stopped || !strings.Contains(run.Error, "killed") {
		t.Fatalf("run = %+v", run)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}
