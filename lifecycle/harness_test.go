package lifecycle

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/role"
)

// waitTimeout bounds every wait for a condition; generous because CI runs
// on a loaded 2-core machine.
const waitTimeout = 20 * time.Second

// recorder collects host events and wakes waiters on each one.
type recorder struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{})} }

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	close(r.notify)
	r.notify = make(chan struct{})
}

// count returns how many events so far match pred.
func (r *recorder) count(pred func(Event) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if pred(ev) {
			n++
		}
	}
	return n
}

// waitN waits until n events match pred and returns the n-th.
func (r *recorder) waitN(t *testing.T, what string, n int, pred func(Event) bool) Event {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		seen := 0
		for _, ev := range r.events {
			if pred(ev) {
				if seen++; seen == n {
					r.mu.Unlock()
					return ev
				}
			}
		}
		notify := r.notify
		r.mu.Unlock()
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf("timed out waiting for %s (#%d); events: %v", what, n, r.snapshot())
		}
	}
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// state matches a StateChanged to s (of incarnation inc, if inc > 0).
func state(s State, inc int) func(Event) bool {
	return func(ev Event) bool {
		sc, ok := ev.(StateChanged)
		return ok && sc.State == s && (inc == 0 || sc.Incarnation == inc)
	}
}

func recycled(ev Event) bool { _, ok := ev.(Recycled); return ok }

// testRole is a role made of functions; nil hooks behave like role.Default.
type testRole struct {
	onStart, run, onStop func(ctx context.Context, env role.Env) error

	mu    sync.Mutex
	calls []string
}

func (r *testRole) record(hook string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, hook)
}

func (r *testRole) count(hook string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == hook {
			n++
		}
	}
	return n
}

func (r *testRole) OnStart(ctx context.Context, env role.Env) error {
	r.record("OnStart")
	if r.onStart != nil {
		return r.onStart(ctx, env)
	}
	return nil
}

func (r *testRole) Run(ctx context.Context, env role.Env) error {
	r.record("Run")
	if r.run != nil {
		return r.run(ctx, env)
	}
	<-ctx.Done()
	return nil
}

func (r *testRole) OnStop(ctx context.Context, env role.Env) error {
	r.record("OnStop")
	if r.onStop != nil {
		return r.onStop(ctx, env)
	}
	return nil
}

// testConfig is a valid config for in-process hosts: fast backoff, no
// jitter, a temp data dir, a free loopback port.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Default(testConfigOptions())
	if err != nil {
		t.Fatal(err)
	}
	tuneTestConfig(t, cfg)
	return cfg
}

func testConfigOptions() config.Options {
	return config.Options{Environ: []string{}, ProgramName: "testrole", Hostname: "testhost"}
}

func tuneTestConfig(t *testing.T, cfg *config.Config) {
	// The store dir was derived from the default data dir; move both, or
	// the embedded server writes under the package directory.
	cfg.Role.DataDir = t.TempDir()
	cfg.NATS.StoreDir = filepath.Join(cfg.Role.DataDir, "nats")
	cfg.Health.Addr = "127.0.0.1:0"
	cfg.Host.StopTimeout = waitTimeout
	cfg.Host.BackoffBase = time.Millisecond
	cfg.Host.BackoffMax = 4 * time.Millisecond
	cfg.Host.BackoffJitter = 0
}

// writeConfig writes a YAML config file and loads it.
func writeConfig(t *testing.T, path, yaml string) *config.Config {
	t.Helper()
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, testConfigOptions())
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return cfg
}

// harness runs a Host in the background for one test.
type harness struct {
	t      *testing.T
	h      *Host
	rec    *recorder
	base   string // http://addr of the health endpoint
	done   chan error
	sigs   chan os.Signal
	stacks *testutil.Buffer
	exits  chan int
	logs   *testutil.Buffer
}

func startHost(t *testing.T, r role.Role, cfg *config.Config, tune func(*Options)) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &harness{
		t: t, rec: newRecorder(), done: make(chan error, 1), sigs: make(chan os.Signal, 4),
		stacks: &testutil.Buffer{}, exits: make(chan int, 4), logs: &testutil.Buffer{},
		base: "http://" + ln.Addr().String(),
	}
	opts := Options{
		Logger:         newTestLogger(hs.logs),
		Events:         hs.rec.add,
		Signals:        hs.sigs,
		Exit:           func(code int) { hs.exits <- code },
		Stacks:         hs.stacks,
		HealthListener: ln,
		ConfigOptions:  testConfigOptions(),
	}
	if tune != nil {
		tune(&opts)
	}
	h, err := New(r, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs.h = h
	go func() { hs.done <- h.Run(context.Background()) }()
	t.Cleanup(func() {
		h.Stop(nil)
		select {
		case <-hs.done:
		case <-time.After(waitTimeout):
			t.Errorf("host did not stop; logs:\n%s", hs.logs.String())
		}
		if t.Failed() {
			t.Logf("host logs:\n%s", hs.logs.String())
		}
	})
	return hs
}

// wait returns Run's result, failing if it does not come.
func (hs *harness) wait() error {
	hs.t.Helper()
	select {
	case err := <-hs.done:
		hs.done <- err // keep it for Cleanup
		return err
	case <-time.After(waitTimeout):
		hs.t.Fatalf("Run did not return")
		return nil
	}
}

// get fetches a health path and returns the code and trimmed body.
func (hs *harness) get(path string) (int, string) {
	hs.t.Helper()
	resp, err := http.Get(hs.base + path)
	if err != nil {
		hs.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// post sends an empty POST to a health path, with an operator token if
// bearer is not empty, and returns the code and trimmed body.
func (hs *harness) post(path, bearer string) (int, string) {
	hs.t.Helper()
	req, _ := http.NewRequest("POST", hs.base+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		hs.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func (hs *harness) expect(path string, code int, bodyHas string) {
	hs.t.Helper()
	got, body := hs.get(path)
	if got != code || !strings.Contains(body, bodyHas) {
		hs.t.Fatalf("GET %s = %d %q; want %d containing %q", path, got, body, code, bodyHas)
	}
}

func tempPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }

// eventually polls cond until it holds, failing with what() after
// waitTimeout. For conditions no event announces (HTTP answers).
func eventually(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}
