package cloudrole_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// install --print shows the unit install would write, without touching the
// system: ExecStart runs this binary with the absolute config path, the
// stop timeout exceeds the role's deadline, restarts are on failure, the
// type is notify, and systemd-analyze verify accepts it.
func TestInstallPrintUnit(t *testing.T) {
	cfg := roleConfig(t, "host:\n  stop_timeout: 2m\nservice:\n  name: orders-worker\n  description: Orders 100% reliable\n  env:\n    REGION: eu-1\n")
	cmd := exec.Command(testroleBin, "install", "--print", "--config", cfg, "--env", "TIER=gold $HOME")
	cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install --print: %v", err)
	}
	unit := string(out)
	exe, _ := filepath.EvalSymlinks(testroleBin)
	abs, _ := filepath.Abs(cfg)
	for _, want := range []string{
		`ExecStart="` + exe + `" "run" "--config" "` + abs + `"`,
		"\nType=notify\n",
		"\nTimeoutStopSec=150s\n", // 2m deadline + 30s margin
		"\nRestart=on-failure\n",
		"\nRestartSec=5s\n",
		"\nKillMode=mixed\n",
		"\nDescription=Orders 100%% reliable\n",
		"\nEnvironment=\"REGION=eu-1\"\n",
		"\nEnvironment=\"TIER=gold $$HOME\"\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CLOUDROLE_CI") != "" {
			t.Fatal("systemd-analyze is missing in CI; .ci/run installs Debian's systemd package")
		}
		t.Skip("systemd-analyze not installed")
	}
	path := filepath.Join(t.TempDir(), "orders-worker.service")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	verify := exec.Command(analyze, "verify", path)
	vout, err := verify.CombinedOutput()
	// verify exits non-zero only on fatal errors; a bad value is a
	// warning line naming the file, which counts as a failure too.
	if err != nil || strings.Contains(string(vout), "orders-worker.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, vout, unit)
	}
	t.Logf("systemd-analyze verify: clean")
}
