package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
)

// The demo, built and run for real: its three jobs are listed; report runs
// with arguments and its output is received once, then kept; the cleanup
// script from its WebJobs folder runs (here by hand, its schedule moved
// out of the way) in a copy of its folder with WebJobs' variables; a failing
// report fails; SIGINT stops the role with its runs.
func TestDemoJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "jobs")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// The demo's job folder, with cleanup's schedule moved to New Year:
	// a fire during the test would refuse the run by hand (a scheduled
	// job never overlaps itself) and change its count of runs.
	folder := filepath.Join(t.TempDir(), "jobs")
	if err := os.CopyFS(folder, os.DirFS("jobs")); err != nil {
		t.Fatal(err)
	}
	const yearly = "0 0 0 1 1 *"
	if err := os.WriteFile(filepath.Join(folder, "triggered", "cleanup", "settings.job"), []byte(`{"schedule": "`+yearly+`", "stopping_wait_time": 10}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "jobs.yaml")
	os.WriteFile(cfg, []byte(`role: {name: jobs, data_dir: `+dir+`}
health: {addr: "127.0.0.1:0"}
nats: {listen: "127.0.0.1:-1", sync: 1m}
jobs: {dir: `+folder+`}
`), 0o644)
	var stderr testutil.Buffer
	demo := exec.Command(bin, "--config", cfg)
	demo.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	demo.Stderr = &stderr
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	t.Cleanup(func() {
		demo.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("demo log:\n%s", &stderr)
		}
	})
	cli := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append(append([]string{"jobs"}, args...), "--config", cfg)...)
		cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		return out.String(), cmd.ProcessState.ExitCode()
	}
	deadline := time.Now().Add(time.Minute)
	var list string
	for !strings.Contains(list, "leader") || !strings.Contains(list, "cleanup") || !strings.Contains(list, "report") {
		if time.Now().After(deadline) {
			t.Fatalf("the jobs never showed:\n%s", list)
		}
		time.Sleep(100 * time.Millisecond)
		list, _ = cli()
	}
	if !strings.Contains(list, yearly) || !regexp.MustCompile(`leader\s+continuous\s+-\s+true\s+leader\.\S+\s+Running`).MatchString(list) {
		t.Fatalf("jobs:\n%s", list)
	}
	run := func(args ...string) string {
		out, code := cli(append([]string{"run"}, args...)...)
		if code != 0 {
			t.Fatalf("jobs run %v: exit %d %s", args, code, out)
		}
		return strings.TrimSpace(out)
	}
	id := run("report", "weekly")
	if out, code := cli("wait", id); code != 0 || !strings.Contains(out, "Completed") {
		t.Fatalf("wait: exit %d %s", code, out)
	}
	if out, _ := cli("receive", id); !strings.Contains(out, "report weekly: started on") || !strings.Contains(out, "report weekly: written") {
		t.Fatalf("receive: %s", out)
	}
	if out, _ := cli("receive", id); out != "" {
		t.Fatalf("second receive: %q", out)
	}
	if out, _ := cli("receive", id, "--keep"); strings.Count(out, "\n") != 5 {
		t.Fatalf("receive --keep: %s", out)
	}
	clean := run("cleanup")
	if out, code := cli("wait", clean); code != 0 {
		t.Fatalf("cleanup: exit %d %s", code, out)
	}
	out, _ := cli("receive", clean)
	if !strings.Contains(out, "(triggered job cleanup) in "+filepath.Join(dir, "jobs", "bin", "cleanup")) || !strings.Contains(out, "cleanup: done, 1 runs so far") {
		t.Fatalf("cleanup output: %s", out)
	}
	bad := run("report", "fail")
	if out, code := cli("wait", bad); code != 1 || !strings.Contains(out, "Failed (report does not balance)") {
		t.Fatalf("failing report: exit %d %s", code, out)
	}
	if err := demo.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("demo after SIGINT: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("demo did not stop on SIGINT")
	}
	if !strings.Contains(stderr.String(), `run=leader.`) || !strings.Contains(stderr.String(), "leader: stepping down") {
		t.Fatalf("the leader did not step down at the stop")
	}
}
