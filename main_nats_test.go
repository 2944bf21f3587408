package cloudrole_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/lifecycle"
)

// nats.sync (an embedded-only key) with nats.url: the validate verb and the
// run verb refuse it alike, with code 3 and the file, line and key, and run
// starts nothing.
func TestEmbeddedKeyWithURLRefusedByValidateAndRun(t *testing.T) {
	marker := t.TempDir() + "/started"
	cfg := roleConfig(t, "nats:\n  url: nats://127.0.0.1:4222\n  sync: 1s\nsettings:\n  Marker: "+marker+"\n")
	want := cfg + ":8: nats.sync: configures the embedded server"

	cmd := exec.Command(testroleBin, "validate", "--config", cfg)
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != lifecycle.ExitConfig || !strings.Contains(string(out), want) {
		t.Fatalf("validate: exit %d; want %d and %q in:\n%s", code, lifecycle.ExitConfig, want, out)
	}

	p := startProc(t, "run", "--config", cfg)
	if code, _ := p.exit(time.Now()); code != lifecycle.ExitConfig || !strings.Contains(p.output(), want) {
		t.Fatalf("run: exit %d; want %d and %q", code, lifecycle.ExitConfig, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("OnStart ran despite the invalid config")
	}
}

// The NATS settings that validate accepted and run then refused with exit
// 1 (which systemd restarts for ever): one validator now, so both verbs
// exit 3 naming the file, line and key.
func TestNATSSettingsValidateAgreesWithRun(t *testing.T) {
	for _, tc := range []struct{ nats, want string }{
		{"  url: nats://127.0.0.1:4222\n  user: u\n  password: p\n  token: t\n", ":10: nats.token: give one of token, user/password or creds_file"},
		{"  creds_file: /etc/x.creds\n", ":7: nats.creds_file: authenticates to an external server, but url is empty"},
		{"  tls_ca: /etc/ca.pem\n", ":7: nats.tls_ca: authenticates to an external server"},
		{"  listen: 0.0.0.0:4222\n", ":7: nats.listen: \"0.0.0.0:4222\": the embedded server has no authentication and listens on loopback only"},
	} {
		cfg := roleConfig(t, "nats:\n"+tc.nats)
		for _, verb := range []string{"validate", "run"} {
			cmd := exec.Command(testroleBin, verb, "--config", cfg)
			cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != lifecycle.ExitConfig || !strings.Contains(string(out), cfg+tc.want) {
				t.Errorf("%s with\n%s: exit %d; want %d and %q in:\n%s", verb, tc.nats, code, lifecycle.ExitConfig, tc.want, out)
			}
		}
	}
}
