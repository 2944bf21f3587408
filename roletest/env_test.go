package roletest_test

import (
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/roletest"
)

// Settings read as under the host: a missing one is an error wrapping
// role.ErrSettingNotFound that names it, and Set and Unset arrange them.
func TestEnvSettings(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"Workers": "4", "Greeting": "hi"}})
	if n, err := role.Int(env, "Workers"); err != nil || n != 4 {
		t.Fatalf("Int(Workers) = %d, %v", n, err)
	}
	_, err := env.Setting("Missing")
	if !errors.Is(err, role.ErrSettingNotFound) || !strings.Contains(err.Error(), `"Missing"`) {
		t.Fatalf("missing setting: %v; want ErrSettingNotFound naming it", err)
	}
	env.Set("Batch", "10")
	env.Unset("Greeting")
	if got := env.SettingNames(); !slices.Equal(got, []string{"Batch", "Workers"}) {
		t.Fatalf("SettingNames = %v", got)
	}
	if role.StringOr(env, "Greeting", "hello") != "hello" {
		t.Fatal("an unset setting still reads")
	}
}

// The zero Options give a complete identity and an existing, empty data
// dir; given fields are kept, missing ones filled.
func TestEnvIdentityAndDataDir(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	want := role.Identity{Role: "roletest", InstanceID: "roletest_0", Deployment: "test", Incarnation: 1}
	if env.Identity() != want {
		t.Fatalf("Identity = %+v; want %+v", env.Identity(), want)
	}
	if fi, err := os.Stat(env.DataDir()); err != nil || !fi.IsDir() {
		t.Fatalf("DataDir %q: %v", env.DataDir(), err)
	}
	dir := t.TempDir() + "/nested/data"
	env = roletest.NewEnv(t, roletest.Options{Identity: role.Identity{Role: "orders"}, DataDir: dir})
	if id := env.Identity(); id.Role != "orders" || id.InstanceID != "orders_0" || id.Incarnation != 1 {
		t.Fatalf("Identity = %+v", id)
	}
	if _, err := os.Stat(dir); err != nil || env.DataDir() != dir {
		t.Fatalf("DataDir %q (want %q): %v", env.DataDir(), dir, err)
	}
}

// SetBusy, RequestRecycle and RequestStop are recorded (the first reason
// kept, as the host keeps it) and logged as the host logs them.
func TestEnvRecordsRequests(t *testing.T) {
	env := roletest.NewEnv(t, roletest.Options{})
	if _, ok := env.RecycleRequested(); ok {
		t.Fatal("a recycle was requested before any call")
	}
	env.SetBusy(true)
	env.SetBusy(true)
	env.SetBusy(false)
	if env.Busy() || !slices.Equal(env.BusyCalls(), []bool{true, true, false}) {
		t.Fatalf("Busy %v, BusyCalls %v", env.Busy(), env.BusyCalls())
	}
	env.RequestRecycle("cache corrupt")
	env.RequestRecycle("again")
	env.RequestStop("batch done")
	if r, ok := env.RecycleRequested(); !ok || r != "cache corrupt" {
		t.Fatalf("RecycleRequested = %q, %v", r, ok)
	}
	if r, ok := env.StopRequested(); !ok || r != "batch done" {
		t.Fatalf("StopRequested = %q, %v", r, ok)
	}
	logs := env.Logs()
	for _, want := range []string{
		"level=INFO msg=busy role=roletest instance=roletest_0 incarnation=1 busy=true",
		`msg="recycle requested"`, `reason="cache corrupt"`, `msg="stop requested"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "msg=busy"); n != 2 {
		t.Errorf("%d busy records; want one per change:\n%s", n, logs)
	}
}

// The logger is the host's instance logger: tagged with the identity. With
// Options.Logger the records go there and Logs is empty.
func TestEnvLogger(t *testing.T) {
	var buf testutil.Buffer
	env := roletest.NewEnv(t, roletest.Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	env.Logger().Info("hello")
	if !strings.Contains(buf.String(), "msg=hello role=roletest instance=roletest_0 incarnation=1") {
		t.Fatalf("record %q; want it tagged with the identity", buf.String())
	}
	if env.Logs() != "" {
		t.Fatalf("Logs with Options.Logger = %q", env.Logs())
	}
}
