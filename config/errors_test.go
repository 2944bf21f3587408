package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/startup"
)

const file = "/etc/roles/role.yaml"

// Each bad input is rejected with the file, the line and the dotted key, and
// a message saying what was expected.
func TestBadInputNamesFileLineKey(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		key      string
		msg      []string
	}{
		{"unknown section", "role: {}\nhsot:\n  x: 1\n", 2, "hsot", []string{"unknown section", "did you mean host?"}},
		{"unknown key", "host:\n  stop_timeout: 1m\n  stop_timout: 2m\n", 3, "host.stop_timout", []string{"unknown key", "did you mean stop_timeout?"}},
		{"unknown key far from any", "log:\n  colour: red\n", 2, "log.colour", []string{"unknown key"}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", 3, "log.level", []string{"duplicate key", "line 2"}},
		{"list for a string", "role:\n  name: [a, b]\n", 2, "role.name", []string{"not a list"}},
		{"mapping for a duration", "host:\n  stop_timeout: {m: 1}\n", 2, "host.stop_timeout", []string{"not a mapping", "duration"}},
		{"string for a duration", "host:\n  backoff_base: soon\n", 2, "host.backoff_base", []string{`invalid duration "soon"`, "30s"}},
		{"bare number for a duration", "host:\n  handler_timeout: 30\n", 2, "host.handler_timeout", []string{"give a unit", `"30s"`}},
		{"string for an int", "host:\n  max_failures: many\n", 2, "host.max_failures", []string{`invalid integer "many"`}},
		{"float for an int", "host:\n  backoff_jitter: 2.5\n", 2, "host.backoff_jitter", []string{"invalid integer"}},
		{"list for a section", "host:\n  - a\n", 2, "host", []string{"must be a mapping", "stop_timeout"}},
		{"scalar for a section", "log: loud\n", 1, "log", []string{"must be a mapping"}},
		{"list for settings", "settings:\n  - a\n", 2, "settings", []string{"mapping"}},
		{"mapping for a setting", "settings:\n  A:\n    b: c\n", 3, "settings.A", []string{"not a mapping", "strings"}},
		{"bad setting name", "settings:\n  9lives: x\n", 2, "settings.9lives", []string{"invalid setting name"}},
		{"list for service.env", "service:\n  env: [a]\n", 2, "service.env", []string{"mapping"}},
		{"mapping in service.env", "service:\n  env:\n    A: {b: c}\n", 3, "service.env.A", []string{"not a mapping"}},
		{"negative duration", "host:\n  stop_timeout: -5s\n", 2, "host.stop_timeout", []string{"negative"}},
		{"non-scalar key", "log:\n  [a]: b\n", 2, "log", []string{"plain names"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.in)
			wantErr(t, err, file, tc.line, tc.key, tc.msg...)
			if !strings.HasPrefix(err.Error(), file+":") {
				t.Errorf("error text %q does not start with file:line", err)
			}
		})
	}
}

// Values that parse but are out of range are rejected by validation, at the
// line that set them.
func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		key  string
		msg  string
	}{
		{"host:\n  max_failures: 0\n", 2, "host.max_failures", "at least 1"},
		{"host:\n  max_failures: -3\n", 2, "host.max_failures", "at least 1"},
		{"host:\n  backoff_jitter: 101\n", 2, "host.backoff_jitter", "0 to 100"},
		{"host:\n  backoff_jitter: -1\n", 2, "host.backoff_jitter", "0 to 100"},
		{"host:\n  backoff_base: 10s\n  backoff_max: 5s\n", 3, "host.backoff_max", "less than backoff_base"},
		{"host:\n  stop_timeout: 0s\n", 2, "host.stop_timeout", "more than 0"},
		{"host:\n  handler_timeout: 0s\n", 2, "host.handler_timeout", "more than 0"},
		{"host:\n  healthy_after: 0s\n", 2, "host.healthy_after", "more than 0"},
		{"host:\n  reload_interval: 1ns\n", 2, "host.reload_interval", "at least 10ms"},
		{"host:\n  failure_action: restart\n", 2, "host.failure_action", "freeze or exit"},
		{"log:\n  level: verbose\n", 2, "log.level", "debug, info, warn or error"},
		{"log:\n  format: xml\n", 2, "log.format", "text or json"},
		{"health:\n  addr: localhost\n", 2, "health.addr", "host:port"},
		{"health:\n  addr: 127.0.0.1:70000\n", 2, "health.addr", "invalid port"},
		{"health:\n  addr: 127.0.0.1:-1\n", 2, "health.addr", "invalid port"},
		{"nats:\n  url: http://x:4222\n", 2, "nats.url", "scheme"},
		{"nats:\n  url: nats://\n", 2, "nats.url", "no host"},
		{"nats:\n  url: nats://:4222\n", 2, "nats.url", "no host"},
		{"nats:\n  url: nats://a.example:4222,nats://b.example:99999\n", 2, "nats.url", "port \"99999\" is not 1 to 65535"},
		{"nats:\n  url: nats://a.example:0\n", 2, "nats.url", "is not 1 to 65535"},
		{"nats:\n  user: u\n", 2, "nats.user", "needs a password"},
		{"nats:\n  password: p\n", 2, "nats.password", "needs a user"},
		{"nats:\n  tls_cert: c.pem\n", 2, "nats.tls_cert", "go together"},
		{"nats:\n  sync: sometimes\n", 2, "nats.sync", "always"},
		{"nats:\n  sync: 0s\n", 2, "nats.sync", "positive"},
		{"nats:\n  listen: nowhere\n", 2, "nats.listen", "host:port"},
		{"settings:\n  Freeze: maybe\n", 2, "settings.Freeze", "true or false"},
		{"role:\n  name: my role\n", 2, "role.name", "letters, digits"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, err := parse(t, tc.in)
			wantErr(t, err, file, tc.line, tc.key, tc.msg)
		})
	}
}

// Every problem is reported at once, sorted by line, one per line of text.
func TestAllProblemsReported(t *testing.T) {
	_, err := parse(t, "log:\n  level: loud\nhost:\n  max_failures: 0\n  bogus: 1\n")
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	if es[0].Line != 2 || es[1].Line != 4 || es[2].Line != 5 {
		t.Fatalf("not sorted by line: %v", err)
	}
	if n := strings.Count(err.Error(), "\n"); n != 2 {
		t.Fatalf("want one line per problem:\n%v", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"role:\n  name: a\n   bad: [\n", 3, "invalid YAML"},
		{"role: {name: a\n", 1, "invalid YAML"},
		{"a: b\n---\nc: d\n", 2, "more than one YAML document"},
		{"- a\n- b\n", 1, "must be a mapping of sections"},
		{"just text\n", 1, "must be a mapping of sections"},
		{"\tx: 1\n", 1, "invalid YAML"},
		{"role:\n\tname: x\n", 2, "a tab: YAML indents with spaces only"},
		{"settings:\n  Spec: * * * * * *\n", 2, "quote it"},
	} {
		_, err := parse(t, tc.in)
		wantErr(t, err, file, tc.line, "", tc.msg)
	}
}

// YAML anchors and aliases are refused outright, so an alias bomb ("billion
// laughs") costs nothing.
func TestAliasesRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 30; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	for _, tc := range []struct {
		in   string
		line int // where the first anchor is
	}{{b.String(), 1}, {"settings:\n  A: &x v\n  B: *x\n", 2}, {"host: &h {}\n", 1}} {
		_, err := parse(t, tc.in)
		wantErr(t, err, file, tc.line, "", "anchors and aliases are not supported")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// An alias to an anchor that does not exist is refused at its line too (the
// YAML library reports it with no line).
func TestUnknownAliasHasLine(t *testing.T) {
	_, err := parse(t, "settings:\n  A: v\n  B: *nope\n")
	wantErr(t, err, file, 3, "", "anchors and aliases are not supported")
}

// A bare 0 is a duration without a unit: "reload_interval: 0" turns live
// reload off, as documented; other bare numbers still need a unit.
func TestZeroDurationNeedsNoUnit(t *testing.T) {
	c := mustParse(t, "host:\n  reload_interval: 0\n  backoff_base: 0\n  backoff_max: 0\n")
	if c.Host.ReloadInterval != 0 || c.Host.BackoffBase != 0 {
		t.Fatalf("reload_interval %v backoff_base %v; want 0", c.Host.ReloadInterval, c.Host.BackoffBase)
	}
	c = mustParse(t, "startup:\n  - {name: a, type: simple, command: [x], timeout: 0}\n")
	if c.Startup[0].Timeout != 0 {
		t.Fatal("startup timeout 0 not accepted")
	}
	_, err := parse(t, "host:\n  reload_interval: 1\n")
	wantErr(t, err, file, 2, "host.reload_interval", "give a unit")
}

// Validate applies Parse's checks to a Config changed in code.
func TestValidateMethod(t *testing.T) {
	c := mustParse(t, fullYAML)
	if err := c.Validate(); err != nil {
		t.Fatalf("a parsed config fails Validate: %v", err)
	}
	c.Host.MaxFailures = 0
	c.Log.Level = "loud"
	c.Settings["bad name"] = "x"
	c.Startup = append(c.Startup, startup.Task{Name: "migrate", Kind: "daemon"})
	err := c.Validate()
	wantErr(t, err, file, 0, "host.max_failures", "at least 1")
	wantErr(t, err, file, 0, "log.level", "debug, info")
	wantErr(t, err, file, 0, "settings.bad name", "invalid setting name")
	wantErr(t, err, file, 0, "startup[3]", "used twice")
	wantErr(t, err, file, 0, "startup[3].type", "unknown type")
	wantErr(t, err, file, 0, "startup[3].command", "required")
}
