package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every scalar key of every section can be overridden with
// CLOUDROLE_<SECTION>_<KEY>, and the environment wins over the file.
func TestEnvOverridesEverySection(t *testing.T) {
	env := []string{
		"CLOUDROLE_ROLE_NAME=envrole", "CLOUDROLE_ROLE_INSTANCE_ID=i-9", "CLOUDROLE_ROLE_DEPLOYMENT=staging",
		"CLOUDROLE_ROLE_DATA_DIR=/d",
		"CLOUDROLE_HOST_STOP_TIMEOUT=1m", "CLOUDROLE_HOST_HEALTHY_AFTER=1h", "CLOUDROLE_HOST_BACKOFF_BASE=3s",
		"CLOUDROLE_HOST_BACKOFF_MAX=4s", "CLOUDROLE_HOST_BACKOFF_JITTER=0", "CLOUDROLE_HOST_MAX_FAILURES=2",
		"CLOUDROLE_HOST_FAILURE_ACTION=exit", "CLOUDROLE_HOST_RELOAD_INTERVAL=0", "CLOUDROLE_HOST_HANDLER_TIMEOUT=1s",
		"CLOUDROLE_HEALTH_ADDR=off",
		"CLOUDROLE_LOG_LEVEL=warn", "CLOUDROLE_LOG_FORMAT=json",
		"CLOUDROLE_NATS_URL=nats://n:4222", "CLOUDROLE_NATS_CREDS_FILE=/c", "CLOUDROLE_NATS_USER=u",
		"CLOUDROLE_NATS_PASSWORD=p", "CLOUDROLE_NATS_TLS_CA=/ca",
		"CLOUDROLE_NATS_TLS_CERT=/cert", "CLOUDROLE_NATS_TLS_KEY=/key",
		"CLOUDROLE_SERVICE_NAME=svc", "CLOUDROLE_SERVICE_DISPLAY_NAME=Svc", "CLOUDROLE_SERVICE_DESCRIPTION=d",
		"CLOUDROLE_SERVICE_USER=nobody", "CLOUDROLE_SERVICE_WORKING_DIR=/w",
		"CLOUDROLE_JOBS_DIR=/jobs", "CLOUDROLE_JOBS_HISTORY=7", "CLOUDROLE_JOBS_HISTORY_SIZE=1MiB",
		"CLOUDROLE_JOBS_MAX_QUEUED=9", "CLOUDROLE_JOBS_HEARTBEAT=1s", "CLOUDROLE_JOBS_FAIL_AFTER=10s",
		"CLOUDROLE_JOBS_SCAN_INTERVAL=3s", "CLOUDROLE_JOBS_TIME_ZONE=Local", "CLOUDROLE_JOBS_REPLICAS=3",
	}
	c := mustParse(t, "role: {name: filerole}\nhost: {stop_timeout: 9m}\nlog: {level: error}\n", env...)
	want := Config{
		File: file,
		Role: Role{Name: "envrole", InstanceID: "i-9", Deployment: "staging", DataDir: "/d"},
		Host: Host{StopTimeout: time.Minute, HealthyAfter: time.Hour, BackoffBase: 3 * time.Second,
			BackoffMax: 4 * time.Second, MaxFailures: 2, FailureAction: "exit", HandlerTimeout: time.Second},
		Health: Health{Addr: "off"},
		Log:    Log{Level: "warn", Format: "json"},
		NATS: NATS{URL: "nats://n:4222", CredsFile: "/c", User: "u", Password: "p", TLSCA: "/ca",
			TLSCert: "/cert", TLSKey: "/key", StoreDir: "/d/nats", Sync: "always", Listen: "127.0.0.1:-1"},
		Service: Service{Name: "svc", DisplayName: "Svc", Description: "d", User: "nobody", WorkingDir: "/w"},
	}
	c.Settings = nil
	if c.Role != want.Role || c.Host != want.Host || c.Health != want.Health || c.Log != want.Log ||
		c.NATS != want.NATS || c.Service.Name != "svc" || c.Service.DisplayName != "Svc" ||
		c.Service.Description != "d" || c.Service.User != "nobody" || c.Service.WorkingDir != "/w" {
		t.Fatalf("got  %+v\nwant %+v", *c, want)
	}
	wantJobs := Jobs{Dir: "/jobs", History: 7, HistorySize: 1 << 20, MaxQueued: 9, Heartbeat: time.Second,
		FailAfter: 10 * time.Second, ScanInterval: 3 * time.Second, TimeZone: "Local", Replicas: 3}
	if c.Jobs.Dir != wantJobs.Dir || c.Jobs.History != 7 || c.Jobs.HistorySize != wantJobs.HistorySize ||
		c.Jobs.MaxQueued != 9 || c.Jobs.Heartbeat != wantJobs.Heartbeat || c.Jobs.FailAfter != wantJobs.FailAfter ||
		c.Jobs.ScanInterval != wantJobs.ScanInterval || c.Jobs.TimeZone != "Local" || c.Jobs.Replicas != 3 {
		t.Fatalf("jobs from the environment: %+v", c.Jobs)
	}
	// The embedded server's keys, refused with a url.
	embedded := []string{"CLOUDROLE_NATS_STORE_DIR=/js", "CLOUDROLE_NATS_SYNC=1s", "CLOUDROLE_NATS_LISTEN=127.0.0.1:0"}
	if n := mustParse(t, "nats: {store_dir: x, sync: 2m, listen: \"127.0.0.1:1\"}\n", embedded...).NATS; n.StoreDir != "/js" || n.Sync != "1s" || n.Listen != "127.0.0.1:0" {
		t.Fatalf("embedded keys from the environment: %+v", n)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("alice 0123456789abcdefXYZ\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	console := []string{"CLOUDROLE_CONSOLE_ADDR=127.0.0.1:9999", "CLOUDROLE_CONSOLE_TOKEN=0123456789abcdef-env", "CLOUDROLE_CONSOLE_TOKEN_FILE=" + tokens}
	if c := mustParse(t, "", console...).Console; c.Addr != "127.0.0.1:9999" || c.Token != "0123456789abcdef-env" || c.TokenFile != tokens {
		t.Fatalf("console from the environment: %+v", c)
	}
	token := []string{"CLOUDROLE_NATS_URL=nats://n:4222", "CLOUDROLE_NATS_TOKEN=t"}
	if n := mustParse(t, "", token...).NATS; n.Token != "t" {
		t.Fatalf("token from the environment: %+v", n)
	}
	// Every schema key is in env, so a new key without an override test fails.
	for _, s := range schema {
		for _, f := range s.fields {
			name := "CLOUDROLE_" + strings.ToUpper(s.name+"_"+f.key) + "="
			found := false
			for _, kv := range append(append(append(env, embedded...), token...), console...) {
				found = found || strings.HasPrefix(kv, name)
			}
			if !found {
				t.Errorf("no override tested for %s.%s", s.name, f.key)
			}
		}
	}
}

func TestEnvSettings(t *testing.T) {
	c := mustParse(t, "settings:\n  Greeting: hi\n  Port: 80\n",
		"CLOUDROLE_SETTING_Greeting=hello", "CLOUDROLE_SETTING_PORT=8080", "CLOUDROLE_SETTING_New=x=y",
		"CLOUDROLE_SETTING_Empty=")
	want := map[string]string{"Greeting": "hello", "Port": "8080", "New": "x=y", "Empty": ""}
	for k, v := range want {
		if c.Settings[k] != v {
			t.Errorf("setting %s = %q; want %q (all: %v)", k, c.Settings[k], v, c.Settings)
		}
	}
	if len(c.Settings) != len(want) {
		t.Errorf("settings %v; want %v", c.Settings, want)
	}
}

// CLOUDROLE_SETTING_FREEZE (the usual upper-case spelling) sets Freeze even
// when the file does not name it, since the host reads it by that name.
func TestEnvFreezeAnyCase(t *testing.T) {
	for _, kv := range []string{"CLOUDROLE_SETTING_FREEZE=true", "CLOUDROLE_SETTING_freeze=true", "CLOUDROLE_SETTING_Freeze=true"} {
		c := mustParse(t, "", kv)
		if !c.Freeze() {
			t.Errorf("%s: Freeze() is false; settings %v", kv, c.Settings)
		}
	}
	_, err := parse(t, "", "CLOUDROLE_SETTING_FREEZE=maybe")
	wantErr(t, err, "environment", 0, "CLOUDROLE_SETTING_FREEZE", "true or false")
}

// A variable that matches two settings differing only in case is an error,
// not a coin toss; an exact match wins.
func TestEnvSettingCaseAmbiguity(t *testing.T) {
	in := "settings:\n  mode: a\n  Mode: b\n"
	c := mustParse(t, in, "CLOUDROLE_SETTING_Mode=c")
	if c.Settings["Mode"] != "c" || c.Settings["mode"] != "a" {
		t.Fatalf("exact match not preferred: %v", c.Settings)
	}
	for i := 0; i < 20; i++ {
		_, err := parse(t, in, "CLOUDROLE_SETTING_MODE=c")
		wantErr(t, err, "environment", 0, "CLOUDROLE_SETTING_MODE", "mode", "Mode")
	}
}

// Bad values from the environment name the variable, not a file line.
func TestEnvErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ kv, msg string }{
		{"CLOUDROLE_HOST_STOP_TIMEOUT=soon", "invalid duration"},
		{"CLOUDROLE_HOST_STOP_TIMEOUT=30", "invalid duration"},
		{"CLOUDROLE_HOST_STOP_TIMEOUT=-1s", "negative"},
		{"CLOUDROLE_HOST_MAX_FAILURES=x", "invalid integer"},
		{"CLOUDROLE_HOST_MAX_FAILURES=0", "at least 1"},
		{"CLOUDROLE_HOST_BACKOFF_JITTER=200", "0 to 100"},
		{"CLOUDROLE_LOG_LEVEL=loud", "debug, info"},
		{"CLOUDROLE_HOST_STOPTIMEOUT=1m", "unknown key host.stoptimeout"},
		{"CLOUDROLE_SERVICE_ENV=A=b", "cannot be set from the environment"},
		{"CLOUDROLE_SETTING_9x=1", "invalid setting name"},
		{"CLOUDROLE_SETTING_=1", "invalid setting name"},
	} {
		name, _, _ := strings.Cut(tc.kv, "=")
		_, err := parse(t, "host:\n  stop_timeout: 1m\n", tc.kv)
		wantErr(t, err, "environment", 0, name, tc.msg)
		if !strings.HasPrefix(err.Error(), "environment: "+name+": ") {
			t.Errorf("error text %q", err)
		}
	}
}

// Variables that are not overrides are left alone: the host's identity
// variables, CLOUDROLE_CONFIG, names of no section, malformed entries.
func TestEnvIgnored(t *testing.T) {
	c := mustParse(t, "", "CLOUDROLE_CONFIG=/x.yaml", "CLOUDROLE_ROLE=other", "CLOUDROLE_INSTANCE_ID=x",
		"CLOUDROLE_DEPLOYMENT=x", "CLOUDROLE_INCARNATION=3", "CLOUDROLE_DATA_DIR=/elsewhere",
		"CLOUDROLE_SOMETHING=1", "NOT_CLOUDROLE_HOST_STOP_TIMEOUT=x", "CLOUDROLE_HOST_STOP_TIMEOUT", "PATH=/bin")
	if d := wantDefaults(); c.Role != d.Role || c.Host != d.Host {
		t.Fatalf("ignored variables changed the config: %+v", c)
	}
}
