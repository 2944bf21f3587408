package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The demo, built and run for real with a small batch: it starts the
// embedded server, ships every order (poison ones dead-lettered), prints
// the summary and, with -exit-when-done, stops cleanly with code 0.
func TestDemoRunsToCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "orders")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "orders.yaml")
	if err := os.WriteFile(cfg, []byte(`role: {name: orders, data_dir: `+dir+`}
health: {addr: "127.0.0.1:0"}
nats: {listen: "127.0.0.1:-1", sync: 1m}
settings: {Orders: "300", FlakyPercent: "10", PoisonPercent: "5"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
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
