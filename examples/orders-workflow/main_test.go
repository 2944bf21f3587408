package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
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

// The demo, built and run for real: order-3 waits for its approval; the
// demo is SIGKILLed while it waits and started again; the approval is
// raised from the command line; every order ends as it should (two ship,
// one is declined and compensated, one is refunded), the shop's own route
// answers like CreateCheckStatusResponse, and with -exit-when-done the
// demo stops by itself with code 0.
// demoToken is the operator token the demo's config carries in the test.
const demoToken = "orders-workflow-operator-token-1"

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "orders-workflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(cfg, []byte(`role: {name: orders-workflow, data_dir: `+dir+`}
health: {addr: "127.0.0.1:0"}
nats: {listen: "127.0.0.1:-1"}
settings: {CleanupEvery: 1s}
console: {token: `+demoToken+`}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	first := startDemo(t, bin, cfg)
	if !testutil.Poll(func() bool { return strings.Contains(first.stdout.String(), "order-4 Failed") }, time.Minute) {
		t.Fatalf("order-4 never ended\nstdout:\n%s\nstderr:\n%s", &first.stdout, &first.stderr)
	}
	// order-3 waits for its approval: SIGKILL the demo now.
	if out, code := verb(t, bin, "workflows", "status", "order-3", "--config", cfg); code != 0 || !strings.Contains(out, `"runtimeStatus": "Running"`) {
		t.Fatalf("order-3 before the kill: exit %d\n%s", code, out)
	}
	first.kill()

	second := startDemo(t, bin, cfg, "-exit-when-done")
	if !testutil.Poll(func() bool { return strings.Contains(second.stderr.String(), "durable: workers started") }, time.Minute) {
		t.Fatalf("the restarted demo never worked\nstderr:\n%s", &second.stderr)
	}
	if out, code := verb(t, bin, "workflows", "raise", "order-3", "approve", `"tester"`, "--config", cfg); code != 0 {
		t.Fatalf("raise: exit %d\n%s", code, out)
	}
	// The shop's own route starts an order and answers with the URLs to
	// manage it.
	addr := regexp.MustCompile(`msg="health endpoint listening" addr=(\S+)`).FindStringSubmatch(second.stderr.String())
	if addr == nil {
		t.Fatalf("no health address in the log:\n%s", &second.stderr)
	}
	order := `{"id":"order-9","item":"mouse","qty":1,"amount":1900,"card":"4242"}`
	// Without the operator token the order is refused, and not started.
	resp, err := http.Post("http://"+addr[1]+"/orders", "application/json", strings.NewReader(order))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /orders without the token: %d", resp.StatusCode)
	}
	if out, code := verb(t, bin, "workflows", "status", "order-9", "--config", cfg); code == 0 {
		t.Fatalf("a refused order started:\n%s", out)
	}
	req, _ := http.NewRequest("POST", "http://"+addr[1]+"/orders", strings.NewReader(order))
	req.Header.Set("Authorization", "Bearer "+demoToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cs struct{ ID, StatusQueryGetURI string }
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &cs); err != nil || resp.StatusCode != http.StatusAccepted || cs.ID != "order-9" ||
		resp.Header.Get("Location") != cs.StatusQueryGetURI || !strings.HasSuffix(cs.StatusQueryGetURI, "/durable/instances/order-9") {
		t.Fatalf("POST /orders: %d %s (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	if err := second.wait(time.Minute); err != nil {
		t.Fatalf("the demo did not stop by itself: %v\nstdout:\n%s\nstderr:\n%s", err, &second.stdout, &second.stderr)
	}
	out := first.stdout.String() + second.stdout.String()
	for _, want := range []string{
		`order-1 Completed: {"reservation":"rsv-order-1"`,
		`order-3 Completed: {"reservation":"rsv-order-3","charge":"ch-order-3-89800","tracking":"trk-order-3","approved_by":"tester"}`,
		"order-4 Failed: charge: card declined (reservation rsv-order-4 released)",
		"order-5 Failed: ship: the courier takes at most 5 monitors (charge ch-order-5-49900 refunded) (reservation rsv-order-5 released)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if out, code := verb(t, bin, "workflows", "status", "order-9", "--config", cfg); code == 0 {
		t.Fatalf("status with the demo stopped should fail (nothing serves the store): exit %d\n%s", code, out)
	}
}

type demo struct {
	cmd            *exec.Cmd
	stdout, stderr testutil.Buffer
	exited         chan error
}

func startDemo(t *testing.T, bin, cfg string, args ...string) *demo {
	t.Helper()
	d := &demo{exited: make(chan error, 1)}
	d.cmd = exec.Command(bin, append(args, "--config", cfg)...)
	d.cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	d.cmd.Stdout, d.cmd.Stderr = &d.stdout, &d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(d.kill)
	return d
}

// kill SIGKILLs the demo if it still runs, and waits for it.
func (d *demo) kill() {
	select {
	case err := <-d.exited:
		d.exited <- err
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	d.exited <- <-d.exited
}

func (d *demo) wait(limit time.Duration) error {
	select {
	case err := <-d.exited:
		d.exited <- err
		return err
	case <-time.After(limit):
		return errors.New("still running")
	}
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
