package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// buildRoles compiles the two lifecycle binaries once.
func (e *env) buildRoles() (cr, plain string, err error) {
	cr, plain = filepath.Join(e.dir, "idlerole"), filepath.Join(e.dir, "plainrole")
	for bin, pkg := range map[string]string{cr: "./cmd/idlerole", plain: "./cmd/plainrole"} {
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("building %s: %v\n%s", pkg, err, out)
		}
	}
	return cr, plain, nil
}

// startStop starts a role binary, times process start to /readyz 200 and
// SIGTERM to exit, in milliseconds.
func startStop(bin string, args func(dir, addr string) []string) (ready, exit float64, err error) {
	dir, err := os.MkdirTemp("", "bench-role")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, args(dir, addr)...)
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 30*time.Second {
			cmd.Process.Kill()
			return 0, 0, fmt.Errorf("%s: not ready in 30 s", filepath.Base(bin))
		}
		time.Sleep(time.Millisecond)
	}
	ready = float64(time.Since(start)) / float64(time.Millisecond)
	client.CloseIdleConnections()
	stop := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-waited:
		if err != nil {
			return 0, 0, fmt.Errorf("%s: exit after SIGTERM: %v", filepath.Base(bin), err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return 0, 0, fmt.Errorf("%s: still running 30 s after SIGTERM", filepath.Base(bin))
	}
	return ready, float64(time.Since(stop)) / float64(time.Millisecond), nil
}

func crRoleArgs(cfgDir string) func(dir, addr string) []string {
	return func(dir, addr string) []string {
		cfg := filepath.Join(dir, "role.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("role: {name: idle, data_dir: %q}\nhealth: {addr: %q}\nnats: {listen: \"127.0.0.1:-1\"}\nhost: {reload_interval: 0}\n", dir, addr)), 0o644)
		return []string{"run", "--config", cfg}
	}
}

func plainArgs(dir, addr string) []string { return []string{"-addr", addr, "-dir", dir} }
