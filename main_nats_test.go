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
