package lifecycle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/role"
)

// configYAML is a config file for the settings tests: fast reload polling
// on the real clock and a free port.
func configYAML(settings string) string {
	return `
host:
  reload_interval: 10ms
  backoff_base: 1ms
  backoff_max: 4ms
  backoff_jitter: 0
health:
  addr: 127.0.0.1:0
settings:
` + settings
}

func fileConfig(t *testing.T, settings string) (string, func(string)) {
	path := tempPath(t, "role.yaml")
	rewrite := func(settings string) {
		t.Helper()
		// Write to a temp file and rename, as editors and config managers
		// do, so the host never reads a half-written file.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(configYAML(settings)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	rewrite(settings)
	return path, rewrite
}

// Freeze: true at start: OnStart is never called, /readyz says frozen,
// /livez is fine; rewriting the file to false starts the role without a
// process restart.
func TestFreezeFromFileThenUnfreeze(t *testing.T) {
	path, rewrite := fileConfig(t, "  Freeze: true\n")
	cfg := writeConfigFile(t, path)
	r := &testRole{}
	hs := startHost(t, r, cfg, nil)

	hs.rec.waitN(t, "frozen", 1, state(StateFrozen, 1))
	hs.expect("/readyz", 503, "not ready: frozen")
	hs.expect("/livez", 200, "ok")
	if st := hs.status(); st.Frozen != "the Freeze setting is true" {
		t.Fatalf("status frozen = %q", st.Frozen)
	}
	if r.count("OnStart") != 0 {
		t.Fatal("OnStart was called while frozen")
	}

	rewrite("  Freeze: false\n")
	hs.rec.waitN(t, "running after unfreeze", 1, state(StateRunning, 1))
	hs.expect("/readyz", 200, "ok")
	if r.count("OnStart") != 1 {
		t.Fatalf("OnStart ran %d times; want 1", r.count("OnStart"))
	}
}

func writeConfigFile(t *testing.T, path string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, path, string(b))
	cfg.Role.DataDir = t.TempDir()
	cfg.NATS.StoreDir = filepath.Join(cfg.Role.DataDir, "nats")
	return cfg
}

// A Changing handler that vetoes: the instance recycles and the next one
// sees the new value.
func TestChangingVetoRecyclesWithNewValue(t *testing.T) {
	path, rewrite := fileConfig(t, "  Greeting: hello\n")
	seen := make(chan string, 4)
	r := &testRole{
		onStart: func(ctx context.Context, env role.Env) error {
			env.OnChanging(func(ctx context.Context, changed []string) error {
				return errors.New("restart to apply " + strings.Join(changed, ","))
			})
			return nil
		},
		run: func(ctx context.Context, env role.Env) error {
			v, err := env.Setting("Greeting")
			if err != nil {
				return err
			}
			seen <- v
			<-ctx.Done()
			return nil
		},
	}
	hs := startHost(t, r, writeConfigFile(t, path), nil)
	if v := <-seen; v != "hello" {
		t.Fatalf("first instance saw %q", v)
	}
	rewrite("  Greeting: bonjour\n")
	rec := hs.rec.waitN(t, "recycle", 1, recycled).(Recycled)
	if want := "settings change vetoed (Greeting): restart to apply Greeting"; rec.Reason != want || rec.Failed {
		t.Fatalf("recycle = %+v; want reason %q", rec.Recycle, want)
	}
	if v := <-seen; v != "bonjour" {
		t.Fatalf("after the veto the new instance saw %q; want bonjour", v)
	}
}

// Without a veto the change is applied live: Changed handlers see the
// names, Setting returns the new value, nothing recycles.
func TestChangedAppliesLive(t *testing.T) {
	path, rewrite := fileConfig(t, "  Greeting: hello\n  Other: x\n")
	changed := make(chan []string, 1)
	var env role.Env
	var mu sync.Mutex
	r := &testRole{onStart: func(ctx context.Context, e role.Env) error {
		mu.Lock()
		env = e
		mu.Unlock()
		e.OnChanged(func(_ context.Context, names []string) { changed <- names })
		return nil
	}}
	hs := startHost(t, r, writeConfigFile(t, path), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	rewrite("  Greeting: bonjour\n  Other: x\n  Added: y\n")
	select {
	case names := <-changed:
		if !slices.Equal(names, []string{"Added", "Greeting"}) {
			t.Fatalf("Changed saw %v", names)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Changed handler not called")
	}
	mu.Lock()
	e := env
	mu.Unlock()
	if v, _ := e.Setting("Greeting"); v != "bonjour" {
		t.Fatalf("Setting after change = %q", v)
	}
	if n := hs.rec.count(recycled); n != 0 {
		t.Fatalf("%d recycles for a live change", n)
	}
}

// A malformed reload keeps the old settings and shows the error in status;
// fixing the file clears it.
func TestMalformedReloadKeepsOldSettings(t *testing.T) {
	path, rewrite := fileConfig(t, "  Greeting: hello\n")
	var env role.Env
	var mu sync.Mutex
	r := &testRole{onStart: func(_ context.Context, e role.Env) error { mu.Lock(); env = e; mu.Unlock(); return nil }}
	hs := startHost(t, r, writeConfigFile(t, path), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))

	rewrite("  Greeting: [unclosed\n")
	hs.rec.waitN(t, "rejected", 1, func(ev Event) bool { _, ok := ev.(ConfigRejected); return ok })
	st := hs.status()
	if !strings.Contains(st.ConfigError, "role.yaml:") {
		t.Fatalf("status config_error = %q; want the file and line", st.ConfigError)
	}
	mu.Lock()
	e := env
	mu.Unlock()
	if v, _ := e.Setting("Greeting"); v != "hello" {
		t.Fatalf("Setting after a bad reload = %q; want the old value", v)
	}
	rewrite("  Greeting: fixed\n")
	hs.rec.waitN(t, "reloaded", 1, func(ev Event) bool { _, ok := ev.(ConfigReloaded); return ok })
	if st := hs.status(); st.ConfigError != "" {
		t.Fatalf("config_error not cleared: %q", st.ConfigError)
	}
}

// A config file that goes missing is reported once (not on every poll),
// and the error clears when the same file is back, with no change to
// apply.
func TestMissingConfigFileReportedOnceAndCleared(t *testing.T) {
	path, _ := fileConfig(t, "  Greeting: hello\n")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hs := startHost(t, &testRole{}, writeConfigFile(t, path), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	hs.rec.waitN(t, "rejected", 1, func(ev Event) bool { _, ok := ev.(ConfigRejected); return ok })
	// Ten polls at 10ms: still one line. (Absence takes time to show.)
	time.Sleep(100 * time.Millisecond)
	if n := strings.Count(hs.logs.String(), "config reload rejected"); n != 1 {
		t.Fatalf("the missing file was logged %d times; want once", n)
	}
	if st := hs.status(); !strings.Contains(st.ConfigError, "role.yaml") {
		t.Fatalf("config_error = %q; want the missing file", st.ConfigError)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for hs.status().ConfigError != "" {
		if time.Now().After(deadline) {
			t.Fatalf("config_error still %q after the file came back", hs.status().ConfigError)
		}
		time.Sleep(5 * time.Millisecond) // polling the status; nothing notifies a clear
	}
}

// Settings: a missing one is an error; /status lists names, never values.
func TestSettingsInEnvAndStatus(t *testing.T) {
	cfg := testConfig(t)
	cfg.Settings = map[string]string{"DBPassword": "s3cr3t-value", "Greeting": "hi"}
	errs := make(chan error, 1)
	r := &testRole{onStart: func(_ context.Context, env role.Env) error {
		_, err := env.Setting("Missing")
		errs <- err
		return nil
	}}
	hs := startHost(t, r, cfg, nil)
	if err := <-errs; !errors.Is(err, role.ErrSettingNotFound) || !strings.Contains(err.Error(), `"Missing"`) {
		t.Fatalf("missing setting error = %v", err)
	}
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	_, body := hs.get("/status")
	if strings.Contains(body, "s3cr3t-value") {
		t.Fatalf("/status exposes a setting value:\n%s", body)
	}
	if !strings.Contains(body, "DBPassword") {
		t.Fatalf("/status does not list setting names:\n%s", body)
	}
}
