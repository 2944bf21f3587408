package config

import (
	"errors"
	"strings"
	"testing"
)

var testOpts = Options{Environ: []string{}, ProgramName: "testrole", Hostname: "testhost"}

// parse parses yaml as the file dir/role.yaml with env as the environment.
func parse(t *testing.T, yaml string, env ...string) (*Config, error) {
	t.Helper()
	opts := testOpts
	opts.Environ = env
	return Parse("/etc/roles/role.yaml", []byte(yaml), opts)
}

func mustParse(t *testing.T, yaml string, env ...string) *Config {
	t.Helper()
	c, err := parse(t, yaml, env...)
	if err != nil {
		t.Fatalf("parse failed:\n%v\ninput:\n%s", err, yaml)
	}
	return c
}

// errList returns the *Error values in err.
func errList(t *testing.T, err error) []*Error {
	t.Helper()
	if err == nil {
		t.Fatal("parse succeeded; want an error")
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	t.Fatalf("error %T %v is neither *Error nor Errors", err, err)
	return nil
}

// wantErr asserts that err holds a problem with the given file, line and
// key whose message contains every string in msg.
func wantErr(t *testing.T, err error, file string, line int, key string, msg ...string) {
	t.Helper()
	for _, e := range errList(t, err) {
		if e.File != file || e.Line != line || e.Key != key {
			continue
		}
		ok := true
		for _, m := range msg {
			if !strings.Contains(e.Msg, m) {
				ok = false
			}
		}
		if ok {
			return
		}
	}
	t.Fatalf("no error %s:%d: %s: %q in:\n%v", file, line, key, msg, err)
}
