package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/lifecycle"
)

// SIGTERM arrives while a simple startup task (and the child it forked)
// runs: the role exits cleanly without waiting for the task, OnStart never
// runs, and neither the task nor its child survives.
func TestSIGTERMDuringSimpleStartupTask(t *testing.T) {
	dir := t.TempDir()
	marker := fmt.Sprintf("600.%d%d", os.Getpid(), time.Now().UnixNano()%1000)
	started := filepath.Join(dir, "onstart-ran")
	cfg := filepath.Join(dir, "role.yaml")
	body := fmt.Sprintf(`role:
  name: faultrole
  data_dir: %s
health:
  addr: 127.0.0.1:0
host:
  stop_timeout: 20s
startup:
  - name: migrate
    type: simple
    command: [sh, -c, "sleep %s & wait"]
settings:
  Marker: %s
`, dir, marker, started)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out testutil.Buffer
	cmd := exec.Command(testroleBin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	if !waitFor(func() bool { return len(processesWithArg(t, marker)) > 0 }, waitTimeout) {
		t.Fatalf("the startup task's child never started; output:\n%s", &out)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != lifecycle.ExitOK {
			t.Fatalf("exit code %d after SIGTERM during a startup task; want 0; output:\n%s", code, &out)
		}
		t.Logf("SIGTERM to exit during a startup task: %v", time.Since(sent))
	case <-time.After(waitTimeout):
		t.Fatalf("role did not exit within %v of SIGTERM; output:\n%s", waitTimeout, &out)
	}
	if left := processesWithArg(t, marker); len(left) != 0 {
		t.Fatalf("startup task processes orphaned: %v", left)
	}
	if _, err := os.Stat(started); err == nil {
		t.Fatal("OnStart ran although the stop came during the startup tasks")
	}
}
