package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tokens come from console.token and a token file; malformed files, short
// tokens and a console off loopback without a token are refused, naming
// the file and line, never a token.
func TestConsoleTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "tokens")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := write("# operators\nalice 0123456789abcdefAAAA\n\nbob   0123456789abcdefBBBB\n")
	c, err := Parse(filepath.Join(dir, "role.yaml"), []byte("console: {token: 0123456789abcdefCCCC, token_file: tokens}\n"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := c.Console.ConsoleTokens()
	if err != nil || len(toks) != 3 || toks[0].Name != "config" || toks[1].Name != "alice" || toks[2].Secret != "0123456789abcdefBBBB" || c.Console.TokenFile != f {
		t.Fatalf("tokens %+v, %v", toks, err)
	}
	for body, want := range map[string]string{
		"alice\n":       "tokens:1: want \"name token\"",
		"alice short\n": "tokens:1: the token of \"alice\" is shorter than 16",
		"a 0123456789abcdefX\na 0123456789abcdefY\n": "tokens:2: the name \"a\" is used twice",
	} {
		write(body)
		_, err := Parse(filepath.Join(dir, "role.yaml"), []byte("console: {token_file: tokens}\n"), testOpts)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%q: error %v, want one with %q and no token", body, err, want)
		}
	}
	for yaml, want := range map[string]string{
		"console: {token: short}\n":                                   "console.token: shorter than 16",
		"console: {addr: \"0.0.0.0:9000\"}\n":                         "console.addr: the console would be reachable off loopback with no token",
		"health: {addr: \"0.0.0.0:8080\"}\nconsole: {addr: health}\n": "console.addr: the console would be reachable off loopback",
		"console: {addr: nowhere}\n":                                  "console.addr: \"nowhere\"",
	} {
		_, err := Parse(filepath.Join(dir, "role.yaml"), []byte(yaml), testOpts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", yaml, err, want)
		}
	}
	// health off loopback and no console.addr: the console is off, no error.
	c, err = Parse(filepath.Join(dir, "role.yaml"), []byte("health: {addr: \"0.0.0.0:8080\"}\n"), testOpts)
	if err != nil || c.ConsoleAddr() != "" {
		t.Fatalf("auto console with health off loopback: %q, %v", c.ConsoleAddr(), err)
	}
	if c, _ := Parse(filepath.Join(dir, "role.yaml"), []byte("{}\n"), testOpts); c.ConsoleAddr() != "health" || !c.ConsoleLoopback() {
		t.Fatalf("default console: %q", c.ConsoleAddr())
	}
}
