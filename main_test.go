package cloudrole_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/lifecycle"
)

const waitTimeout = 30 * time.Second

// testroleBin is internal/testrole, built once for the process tests.
var testroleBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cloudrole-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testroleBin = filepath.Join(dir, "testrole")
	build := exec.Command("go", "build", "-o", testroleBin, "./internal/testrole")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building testrole:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running role binary whose stderr is watched line by line.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, args...)
}

// startProcEnv is startProc with extra environment variables.
func startProcEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(testroleBin, args...), more: make(chan struct{}), done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "CLOUDROLE_CONFIG="), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("role output:\n%s", p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitLine waits for a stderr line matching re and returns its submatches.
func (p *proc) waitLine(re *regexp.Regexp) []string {
	p.t.Helper()
	deadline := time.After(waitTimeout)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if m := re.FindStringSubmatch(p.lines[i]); m != nil {
				p.mu.Unlock()
				return m
			}
		}
		more := p.more
		p.mu.Unlock()
		select {
		case <-more:
		case <-p.done:
			p.t.Fatalf("process ended before a line matched %s", re)
		case <-deadline:
			p.t.Fatalf("no line matched %s", re)
		}
	}
}

// exit waits for the process to exit and returns its code and how long
// that took from since.
func (p *proc) exit(since time.Time) (int, time.Duration) {
	p.t.Helper()
	waited := make(chan error, 1)
	go func() { <-p.done; waited <- p.cmd.Wait() }()
	select {
	case err := <-waited:
		elapsed := time.Since(since)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), elapsed
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0, elapsed
	case <-time.After(waitTimeout):
		p.t.Fatal("process did not exit")
		return -1, 0
	}
}

var healthRE = regexp.MustCompile(`msg="health endpoint listening" addr=(\S+)`)

// waitReady waits until /readyz answers 200.
func (p *proc) waitReady() string {
	p.t.Helper()
	addr := p.waitLine(healthRE)[1]
	p.waitLine(regexp.MustCompile(`msg=state .*state=running`))
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("/readyz = %d once running", resp.StatusCode)
	}
	return addr
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func roleConfig(t *testing.T, extra string) string {
	return writeFile(t, "role.yaml", fmt.Sprintf(`role:
  name: testrole
  data_dir: %s
health:
  addr: 127.0.0.1:0
%s`, t.TempDir(), extra))
}

// An idle role binary gets SIGTERM: it exits 0, promptly.
func TestSIGTERMIdleExitsZero(t *testing.T) {
	p := startProc(t, "--config", roleConfig(t, ""))
	p.waitReady()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, took := p.exit(sent)
	if code != lifecycle.ExitOK {
		t.Fatalf("exit code %d after SIGTERM; want 0", code)
	}
	t.Logf("SIGTERM to exit: %v", took)
	p.waitLine(regexp.MustCompile(`testrole: OnStop`))
}

// OnStop blocks and the config sets a 1-second deadline: the process exits
// with ExitStopTimeout at about the deadline and logs the stuck hook and the
// goroutine stacks.
func TestStopDeadlineExitsNonZero(t *testing.T) {
	p := startProc(t, "run", "--config", roleConfig(t, "host:\n  stop_timeout: 1s\nsettings:\n  OnStopBlock: true\n"))
	p.waitReady()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, took := p.exit(sent)
	if code != lifecycle.ExitStopTimeout {
		t.Fatalf("exit code %d; want %d", code, lifecycle.ExitStopTimeout)
	}
	if took < time.Second {
		t.Fatalf("exited after %v, before the 1s deadline", took)
	}
	t.Logf("deadline 1s, exited after %v", took)
	p.waitLine(regexp.MustCompile(`stop deadline of 1s exceeded; stuck in OnStop`))
	p.waitLine(regexp.MustCompile(`^goroutine \d+ `))
}

// With log.format json every stderr line is a JSON record, the forced
// exit's goroutine dump included (as one attribute of one record).
func TestForcedExitInJSONLogIsJSON(t *testing.T) {
	p := startProc(t, "run", "--config", roleConfig(t, "log:\n  format: json\nhost:\n  stop_timeout: 300ms\nsettings:\n  OnStopBlock: true\n"))
	p.waitLine(regexp.MustCompile(`"msg":"state".*"state":"running"`))
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.exit(sent); code != lifecycle.ExitStopTimeout {
		t.Fatalf("exit code %d; want %d", code, lifecycle.ExitStopTimeout)
	}
	stacks := ""
	p.mu.Lock()
	lines := append([]string(nil), p.lines...)
	p.mu.Unlock()
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a stderr line is not JSON: %q", line)
		}
		if rec["msg"] == "forced exit" {
			stacks, _ = rec["stacks"].(string)
		}
	}
	if !strings.Contains(stacks, "goroutine ") {
		t.Fatalf("no forced-exit record with the goroutine stacks among %d lines", len(lines))
	}
}

// A second SIGTERM during a stuck stop exits at once with ExitForced.
func TestSecondSIGTERMForcesExit(t *testing.T) {
	p := startProc(t, "--config", roleConfig(t, "settings:\n  OnStopBlock: true\n"))
	p.waitReady()
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLine(regexp.MustCompile(`testrole: OnStop`))
	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code, _ := p.exit(sent); code != lifecycle.ExitForced {
		t.Fatalf("exit code %d; want %d", code, lifecycle.ExitForced)
	}
}

// A config with a syntax error or an unknown key: a message naming the file
// and line, ExitConfig, and nothing started.
func TestBadConfigExitsBeforeStarting(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	cases := map[string]string{
		"syntax":      "settings:\n  Marker: " + marker + "\n  Broken: [unclosed\n",
		"unknown key": "settings:\n  Marker: " + marker + "\nhost:\n  stop_timout: 1s\n",
		"wrong type":  "settings:\n  Marker: " + marker + "\nhost:\n  stop_timeout: [1s]\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := roleConfig(t, body)
			p := startProc(t, "--config", cfg)
			code, _ := p.exit(time.Now())
			if code != lifecycle.ExitConfig {
				t.Fatalf("exit code %d; want %d", code, lifecycle.ExitConfig)
			}
			if out := p.output(); !regexp.MustCompile(regexp.QuoteMeta(cfg) + `:\d+`).MatchString(out) {
				t.Fatalf("error does not name file and line:\n%s", out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("OnStart ran despite the invalid config")
			}
		})
	}
}

// The validate verb checks the config without running anything.
func TestValidateVerb(t *testing.T) {
	good := roleConfig(t, "")
	out, err := exec.Command(testroleBin, "validate", "--config", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "config OK") {
		t.Fatalf("validate good config: %v\n%s", err, out)
	}
	bad := roleConfig(t, "host:\n  failure_action: explode\n")
	cmd := exec.Command(testroleBin, "validate", "--config", bad)
	out, err = cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != lifecycle.ExitConfig || !strings.Contains(string(out), "failure_action") {
		t.Fatalf("validate bad config: exit %d (%v)\n%s", code, err, out)
	}
}

// Unknown verbs and flags print usage and exit 2; -h prints it and exits 0.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"explode"}, {"--nope"}, {"run", "extra"}, {"validate", "--config"},
		{"run", "--print"}, {"validate", "--name", "x"}, {"install", "--bogus"}, {"install", "extra"},
		{"uninstall", "--user", "bob"}, {"start", "now"}, {"stop", "--env", "A=1"}, {"restart", "--print"},
		{"status", "--workdir", "/"},
	} {
		cmd := exec.Command(testroleBin, args...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != lifecycle.ExitUsage || !strings.Contains(string(out), "usage:") {
			t.Errorf("%v: exit %d; want %d with usage\n%s", args, code, lifecycle.ExitUsage, out)
		}
	}
	// Bad values of good flags: exit 2 with an error naming the value.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"install", "--print", "--env", "NOEQUALS"}, `--env "NOEQUALS": want KEY=VALUE`},
		{[]string{"install", "--print", "--name", "bad name"}, `"bad name" has ' ' at byte 3`},
	} {
		cmd := exec.Command(testroleBin, c.args...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != lifecycle.ExitUsage || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: exit %d; want %d naming %s\n%s", c.args, code, lifecycle.ExitUsage, c.want, out)
		}
	}
	for _, help := range []string{"-h", "--help", "help"} {
		cmd := exec.Command(testroleBin, help)
		out, _ := cmd.CombinedOutput()
		for _, want := range []string{"run", "validate", "install", "uninstall", "start", "stop", "restart", "status", "--print", "--config"} {
			if code := cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(string(out), want) {
				t.Errorf("%s: exit %d, want %q listed\n%s", help, code, want, out)
			}
		}
	}
	// install --print without a config works, and says what it bakes in.
	cmd := exec.Command(testroleBin, "install", "--print")
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(string(out), "no --config") {
		t.Errorf("install --print without --config: exit %d, want 0 and a note\n%s", code, out)
	}
}
