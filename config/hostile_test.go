package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The secret rule: the values of nats.password, nats.token, the userinfo
// of nats.url, every setting, service.env and startup env never appear in
// an error; errors name the key only.
func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "S3cr3tV4lue"
	for _, tc := range []struct {
		name, in string
		env      []string
	}{
		{"password without user", "nats:\n  password: " + secret + "\n", nil},
		{"token as list", "nats:\n  token: [" + secret + "]\n", nil},
		{"password as mapping", "nats:\n  password: {" + secret + ": 1}\n", nil},
		{"url scheme", "nats:\n  url: http://u:" + secret + "@host:4222\n", nil},
		{"url bad", "nats:\n  url: \"nats://u:" + secret + "@ho st:4222\"\n", nil},
		{"url no host", "nats:\n  url: nats://u:" + secret + "@\n", nil},
		{"url in env", "", []string{"CLOUDROLE_NATS_URL=http://u:" + secret + "@h:1"}},
		{"password env", "", []string{"CLOUDROLE_NATS_PASSWORD=" + secret}},
		{"setting as list", "settings:\n  ApiKey: [" + secret + "]\n", nil},
		{"Freeze value", "settings:\n  Freeze: " + secret + "\n", nil},
		{"Freeze value env", "", []string{"CLOUDROLE_SETTING_Freeze=" + secret}},
		{"service env", "service:\n  env:\n    KEY: {" + secret + ": 1}\n", nil},
		{"startup env", "startup:\n  - {name: a, type: simple, command: [x], env: {K: [" + secret + "]}}\n", nil},
		{"syntax error after a secret", "nats:\n  password: " + secret + "\n  : : [\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.in, tc.env...)
			if err == nil {
				t.Fatal("parse succeeded; want an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error reveals the secret: %v", err)
			}
		})
	}
}

// Files over MaxFileSize are refused by Load and Parse before any parsing.
func TestSizeLimit(t *testing.T) {
	big := []byte("settings:\n  A: \"" + strings.Repeat("x", MaxFileSize) + "\"\n")
	_, err := Parse(file, big, testOpts)
	wantErr(t, err, file, 0, "", "larger than 1048576 bytes")
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, testOpts)
	wantErr(t, err, path, 0, "", "larger than")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("errors.Is(%v, ErrTooLarge) is false", err)
	}
	// Just under the limit is fine.
	ok := []byte("settings:\n  A: " + strings.Repeat("x", MaxFileSize-20) + "\n")
	c, err := Parse(file, ok, testOpts)
	if err != nil || len(c.Settings["A"]) != MaxFileSize-20 {
		t.Fatalf("a file under the limit: %v", err)
	}
}

// Hostile shapes within the size limit give errors, never a crash, and the
// error text stays small.
func TestHostileInputs(t *testing.T) {
	long := strings.Repeat("y", 500_000)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"deep flow nesting", "settings:\n  A: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n", false},
		{"deep block nesting", deepBlock(5000), false},
		{"many unknown keys", manyKeys(50_000), false},
		{"many settings", "settings:\n" + manySettings(50_000), true},
		{"long bad value", "health:\n  addr: " + long + "\n", false},
		{"long bad duration", "host:\n  stop_timeout: " + long + "\n", false},
		{"long command string", "startup:\n  - {name: a, type: simple, command: " + long + "}\n", false},
		{"long setting name", "settings:\n  " + long[:1000] + ": 1\n", true},
		{"long unknown key", "host:\n  " + long[:1000] + ": 1\n", false},
		{"key over the YAML limit", "host:\n  " + long + ": 1\n", false},
		{"NUL bytes", "settings:\n  A: \"\\0\"\n  B: \x00\n", false},
		{"invalid UTF-8", "settings:\n  A: \xff\xfe\n", false},
		{"BOM", "\ufeffrole: {name: bom}\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ok = %v; want %v (%v)", err == nil, tc.ok, trim(err))
			}
			if err != nil && len(err.Error()) > 16<<10 {
				t.Fatalf("error text is %d bytes; want it bounded", len(err.Error()))
			}
		})
	}
}

// A file with thousands of problems reports the first MaxErrors and says how
// many more there were.
func TestErrorCountCapped(t *testing.T) {
	_, err := parse(t, manyKeys(1000))
	var es Errors
	if !errors.As(err, &es) || len(es) != MaxErrors+1 {
		t.Fatalf("want %d errors and a summary, got %d", MaxErrors, len(es))
	}
	if last := es[len(es)-1]; !strings.Contains(last.Msg, "and 950 more problems") {
		t.Fatalf("last error %q", last.Msg)
	}
}

func trim(err error) string {
	if err == nil {
		return "<nil>"
	}
	if s := err.Error(); len(s) > 300 {
		return s[:300] + "..."
	}
	return err.Error()
}

func deepBlock(n int) string {
	var b strings.Builder
	b.WriteString("settings:\n")
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i+2) + "k:\n")
	}
	return b.String()
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("k" + itoa(i) + ": 1\n")
	}
	return b.String()
}

func manySettings(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("  S" + itoa(i) + ": v\n")
	}
	return b.String()
}
