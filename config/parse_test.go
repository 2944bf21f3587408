package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/startup"
)

// wantDefaults is the config a role gets with no file and no overrides,
// anchored at /etc/roles (the directory of the file parse pretends to read).
func wantDefaults() *Config {
	return &Config{
		File: "/etc/roles/role.yaml",
		Role: Role{Name: "testrole", InstanceID: "testrole_testhost", Deployment: "default",
			DataDir: "/etc/roles/data/testrole"},
		Host: Host{StopTimeout: 5 * time.Minute, HealthyAfter: 2 * time.Minute,
			BackoffBase: time.Second, BackoffMax: time.Minute, BackoffJitter: 20,
			MaxFailures: 5, FailureAction: "freeze", ReloadInterval: 2 * time.Second,
			HandlerTimeout: 10 * time.Second},
		Health:  Health{Addr: "127.0.0.1:8080"},
		Log:     Log{Level: "info", Format: "text"},
		NATS:    NATS{StoreDir: "/etc/roles/data/testrole/nats", Sync: "always", Listen: "127.0.0.1:-1"},
		Service: Service{Name: "testrole", DisplayName: "testrole"},
		Jobs: Jobs{History: 50, HistorySize: 64 << 20, MaxQueued: 1000, Heartbeat: 5 * time.Second,
			FailAfter: time.Minute, ScanInterval: 2 * time.Second, TimeZone: "UTC", Replicas: 1},
		Settings: map[string]string{},
	}
}

// An empty file, whitespace, comments, an explicit null document and empty
// sections all give every default.
func TestEmptyGivesDefaults(t *testing.T) {
	for _, in := range []string{"", "  \n\n", "# only a comment\n", "~\n", "---\n", "null\n",
		"role:\nhost:\nhealth:\nlog:\nnats:\nservice:\nstartup:\nsettings:\n"} {
		got := mustParse(t, in)
		if !reflect.DeepEqual(got, wantDefaults()) {
			t.Errorf("input %q:\n got %+v\nwant %+v", in, got, wantDefaults())
		}
	}
}

func TestDefaultWithoutFile(t *testing.T) {
	c, err := Default(Options{})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if c.File != "" || c.Role.Name != "role" || c.Role.InstanceID != "role_localhost" ||
		c.Role.DataDir != filepath.Join(wd, "data", "role") {
		t.Fatalf("Default(Options{}) = %+v; want role \"role\", instance role_localhost, data dir under the working dir", c.Role)
	}
}

const fullYAML = `# every key set
role:
  name: orders
  instance_id: orders-7
  deployment: production
  data_dir: /var/lib/orders
host:
  stop_timeout: 90s
  healthy_after: 3m
  backoff_base: 2s
  backoff_max: 30s
  backoff_jitter: 10
  max_failures: 7
  failure_action: exit
  reload_interval: 5s
  handler_timeout: 15s
health:
  addr: "0.0.0.0:9090"
log:
  level: debug
  format: json
nats:
  url: nats://a.example:4222, tls://b.example:4222
  creds_file: secrets/orders.creds
  user: orders
  password: hunter2
  tls_ca: /pki/ca.pem
  tls_cert: /pki/cert.pem
  tls_key: /pki/key.pem
console:
  addr: health
  token: 0123456789abcdef-token
service:
  name: orders-svc
  display_name: Orders worker
  description: Processes orders
  user: svc-orders
  working_dir: /srv/orders
  env:
    GOMAXPROCS: 4
    MODE: prod
startup:
  - name: migrate
    type: simple
    command: [./migrate, up]
    dir: tools
    env: {DB: main}
    timeout: 2m
  - name: sidecar
    type: background
    command: [/usr/bin/sidecar]
  - name: flusher
    type: foreground
    command: ["sh", "-c", "exec flush"]
jobs:
  dir: webjobs
  history: 20
  history_size: 8MiB
  max_queued: 50
  heartbeat: 2s
  fail_after: 30s
  scan_interval: 5s
  time_zone: Europe/Berlin
  replicas: 3
  programs:
    - name: nightly
      type: triggered
      command: [./nightly.sh, --all]
      dir: tools
      env: {MODE: full}
      schedule: "0 0 3 * * *"
      singleton: true
      stopping_wait_time: 1m
      concurrency: 2
    - name: pump
      type: continuous
      command: [/usr/bin/pump]
settings:
  Freeze: false
  Greeting: hello world
  Port: 8080
  Ratio: 1.50
  Empty:
  Multi: |
    line one
    line two
`

func TestEveryFieldParsed(t *testing.T) {
	got := mustParse(t, fullYAML)
	want := &Config{
		File: "/etc/roles/role.yaml",
		Role: Role{Name: "orders", InstanceID: "orders-7", Deployment: "production", DataDir: "/var/lib/orders"},
		Host: Host{StopTimeout: 90 * time.Second, HealthyAfter: 3 * time.Minute,
			BackoffBase: 2 * time.Second, BackoffMax: 30 * time.Second, BackoffJitter: 10,
			MaxFailures: 7, FailureAction: "exit", ReloadInterval: 5 * time.Second,
			HandlerTimeout: 15 * time.Second},
		Health: Health{Addr: "0.0.0.0:9090"},
		Log:    Log{Level: "debug", Format: "json"},
		NATS: NATS{URL: "nats://a.example:4222, tls://b.example:4222",
			CredsFile: "/etc/roles/secrets/orders.creds", User: "orders", Password: "hunter2",
			TLSCA: "/pki/ca.pem", TLSCert: "/pki/cert.pem", TLSKey: "/pki/key.pem",
			StoreDir: "/var/lib/orders/nats", Sync: "always", Listen: "127.0.0.1:-1"},
		Console: Console{Addr: "health", Token: "0123456789abcdef-token"},
		Service: Service{Name: "orders-svc", DisplayName: "Orders worker", Description: "Processes orders",
			User: "svc-orders", WorkingDir: "/srv/orders", Env: map[string]string{"GOMAXPROCS": "4", "MODE": "prod"}},
		Startup: []startup.Task{
			{Name: "migrate", Kind: startup.Simple, Command: []string{"./migrate", "up"},
				Dir: "/etc/roles/tools", Env: map[string]string{"DB": "main"}, Timeout: 2 * time.Minute},
			{Name: "sidecar", Kind: startup.Background, Command: []string{"/usr/bin/sidecar"}},
			{Name: "flusher", Kind: startup.Foreground, Command: []string{"sh", "-c", "exec flush"}},
		},
		Jobs: Jobs{Dir: "/etc/roles/webjobs", History: 20, HistorySize: 8 << 20, MaxQueued: 50, Heartbeat: 2 * time.Second,
			FailAfter: 30 * time.Second, ScanInterval: 5 * time.Second, TimeZone: "Europe/Berlin", Replicas: 3,
			Programs: []JobProgram{
				{Name: "nightly", Type: "triggered", Command: []string{"./nightly.sh", "--all"}, Dir: "/etc/roles/tools",
					Env: map[string]string{"MODE": "full"}, Schedule: "0 0 3 * * *", Singleton: true,
					StoppingWaitTime: time.Minute, Concurrency: 2},
				{Name: "pump", Type: "continuous", Command: []string{"/usr/bin/pump"}},
			}},
		// Settings keep the text as written: 1.50 stays "1.50".
		Settings: map[string]string{"Freeze": "false", "Greeting": "hello world", "Port": "8080",
			"Ratio": "1.50", "Empty": "", "Multi": "line one\nline two\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// The embedded server's keys, refused with the url of fullYAML.
	n := mustParse(t, embeddedYAML).NATS
	if n.StoreDir != "/etc/roles/js" || n.Sync != "2m" || n.Listen != "127.0.0.1:4333" {
		t.Fatalf("embedded keys: %+v", n)
	}
}

// embeddedYAML sets the keys of the embedded server, which fullYAML cannot
// set: it has a nats.url.
const embeddedYAML = `nats:
  store_dir: js
  sync: 2m
  listen: 127.0.0.1:4333
`

// consoleFileYAML names a token file (it must exist to parse: see
// TestConsoleTokens).
const consoleFileYAML = `console:
  token_file: tokens
`

// tokenYAML authenticates with a token: one of token, user/password or
// creds_file, so it cannot go into fullYAML.
const tokenYAML = `nats:
  url: nats://a.example:4222
  token: tok
`

// Every schema key appears in fullYAML, embeddedYAML or tokenYAML, so a key added to
// the schema without a test fails here.
func TestFullYAMLCoversSchema(t *testing.T) {
	all := "\n" + fullYAML + "\n" + embeddedYAML + "\n" + tokenYAML + "\n" + consoleFileYAML
	for _, s := range schema {
		for _, k := range s.keys() {
			if !strings.Contains(all, "\n"+s.name+":") || !strings.Contains(all, "\n  "+k+":") {
				t.Errorf("fullYAML does not set %s.%s", s.name, k)
			}
		}
	}
}

// Relative paths resolve against the config file's directory, not the
// working directory; absolute ones stay; the store dir follows the data dir.
func TestRelativePaths(t *testing.T) {
	if n := mustParse(t, tokenYAML).NATS; n.Token != "tok" {
		t.Fatalf("token: %+v", n)
	}
	c := mustParse(t, "role: {data_dir: state}\nnats: {url: \"nats://n:4222\", tls_ca: ../pki/ca.pem}\nservice: {working_dir: .}\n")
	if c.Role.DataDir != "/etc/roles/state" || c.NATS.StoreDir != "/etc/roles/state/nats" ||
		c.NATS.TLSCA != "/etc/pki/ca.pem" || c.Service.WorkingDir != "/etc/roles" {
		t.Fatalf("paths: data %q store %q ca %q wd %q", c.Role.DataDir, c.NATS.StoreDir, c.NATS.TLSCA, c.Service.WorkingDir)
	}
	// A relative file name is made absolute against the working directory.
	wd, _ := os.Getwd()
	c, err := Parse("conf/role.yaml", []byte("role: {data_dir: d}"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != filepath.Join(wd, "conf/role.yaml") || c.Role.DataDir != filepath.Join(wd, "conf/d") {
		t.Fatalf("File %q DataDir %q", c.File, c.Role.DataDir)
	}
	// The environment's relative paths resolve the same way.
	c = mustParse(t, "", "CLOUDROLE_ROLE_DATA_DIR=x", "CLOUDROLE_NATS_STORE_DIR=/abs/js")
	if c.Role.DataDir != "/etc/roles/x" || c.NATS.StoreDir != "/abs/js" {
		t.Fatalf("env paths: %q %q", c.Role.DataDir, c.NATS.StoreDir)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "role.yaml")
	if err := os.WriteFile(path, []byte("role: {name: loaded, data_dir: d}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != path || c.Role.Name != "loaded" || c.Role.DataDir != filepath.Join(dir, "d") {
		t.Fatalf("Load: %+v", c)
	}
	_, err = Load(filepath.Join(dir, "missing.yaml"), testOpts)
	wantErr(t, err, filepath.Join(dir, "missing.yaml"), 0, "", "cannot read", "no such file")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("errors.Is(%v, fs.ErrNotExist) is false", err)
	}
}

// Files written on Windows (CRLF line endings) parse the same, with no
// carriage returns left in values.
func TestCRLF(t *testing.T) {
	lf := "role:\n  name: win\nsettings:\n  Greeting: hello there\n  Multi: |\n    a\n    b\n"
	got := mustParse(t, strings.ReplaceAll(lf, "\n", "\r\n"))
	want := mustParse(t, lf)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CRLF: %+v\nLF: %+v", got, want)
	}
}
