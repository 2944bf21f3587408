package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The embedded server's keys given with nats.url are refused at the line
// that set them: they would do nothing, and sync silently so.
func TestEmbeddedOnlyKeysRefusedWithURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		key  string
		msg  []string
	}{
		{"nats:\n  url: nats://n:4222\n  sync: 1s\n", 3, "nats.sync", []string{"embedded server", "nats.url is set (line 2)", "sync_interval: always"}},
		{"nats:\n  url: nats://n:4222\n  sync: always\n", 3, "nats.sync", []string{"embedded server"}},
		{"nats:\n  store_dir: js\n  url: nats://n:4222\n", 2, "nats.store_dir", []string{"embedded server", "store_dir"}},
		{"nats:\n  url: nats://n:4222\n  listen: 127.0.0.1:4222\n", 3, "nats.listen", []string{"embedded server"}},
		// Its form does not matter: refused whole, once.
		{"nats:\n  url: nats://n:4222\n  sync: sometimes\n", 3, "nats.sync", []string{"embedded server"}},
	} {
		_, err := parse(t, tc.in)
		wantErr(t, err, file, tc.line, tc.key, tc.msg...)
		if !strings.HasPrefix(err.Error(), file+":") || len(errList(t, err)) != 1 {
			t.Errorf("%q: error %q; want one, starting with file:line", tc.in, err)
		}
	}
	// From the environment, either way round.
	_, err := parse(t, "nats:\n  listen: 127.0.0.1:4333\n", "CLOUDROLE_NATS_URL=nats://n:4222")
	wantErr(t, err, file, 2, "nats.listen", "by CLOUDROLE_NATS_URL", "an empty CLOUDROLE_NATS_LISTEN drops")
	_, err = parse(t, "nats:\n  url: nats://n:4222\n", "CLOUDROLE_NATS_SYNC=1s")
	wantErr(t, err, "environment", 0, "CLOUDROLE_NATS_SYNC", "embedded server", "line 2")
}

// Only what the user wrote is refused: the defaults (store_dir under
// data_dir included) go with a url. An empty override takes a file's
// embedded key back, so the environment can switch such a file to an
// external server.
func TestEmbeddedDefaultsGoWithURL(t *testing.T) {
	c := mustParse(t, "role: {data_dir: /srv/r}\nnats: {url: \"nats://n:4222\"}\n")
	if c.NATS.StoreDir != "/srv/r/nats" || c.NATS.Sync != "always" || c.NATS.Listen != "127.0.0.1:-1" {
		t.Fatalf("defaults with a url: %+v", c.NATS)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate of a parsed config with a url: %v", err)
	}
	c = mustParse(t, "nats:\n  listen: 127.0.0.1:4333\n  sync: 1s\n  store_dir: js\n",
		"CLOUDROLE_NATS_URL=nats://n:4222", "CLOUDROLE_NATS_LISTEN=", "CLOUDROLE_NATS_SYNC=", "CLOUDROLE_NATS_STORE_DIR=")
	if c.NATS.URL != "nats://n:4222" || c.NATS.Sync != "always" || c.NATS.Listen != "127.0.0.1:-1" || c.NATS.StoreDir != "/etc/roles/data/testrole/nats" {
		t.Fatalf("empty overrides: %+v", c.NATS)
	}
}

// The validate verb and the run verb read the file with Load; the host
// checks the Config again with Validate when it starts (lifecycle.New): all
// refuse the same key, so a config that validates also starts.
func TestValidateAndStartAgreeOnEmbeddedKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "role.yaml")
	if err := os.WriteFile(path, []byte("role: {name: r}\nnats:\n  url: nats://n:4222\n  sync: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, testOpts)
	wantErr(t, err, path, 4, "nats.sync", "embedded server")

	// The same config built in code, as a program may hand it to the host.
	for _, set := range []func(*Config){
		func(c *Config) { c.NATS.Sync = "1s" },
		func(c *Config) { c.NATS.Listen = "127.0.0.1:4222" },
		func(c *Config) { c.NATS.StoreDir = "/elsewhere" },
	} {
		c, err := Default(testOpts)
		if err != nil {
			t.Fatal(err)
		}
		c.NATS.URL = "nats://n:4222"
		if err := c.Validate(); err != nil {
			t.Fatalf("defaults with a url: %v", err)
		}
		set(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "configures the embedded server") {
			t.Errorf("Validate = %v; want the embedded key refused", err)
		}
	}
}
