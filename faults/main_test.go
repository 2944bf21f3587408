package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testroleBin is internal/testrole, built once for the process scenarios.
var testroleBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cloudrole-faults")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testroleBin = filepath.Join(dir, "testrole")
	build := exec.Command("go", "build", "-o", testroleBin, "github.com/cloudrole/cloudrole/internal/testrole")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building testrole:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// long reports whether the longer mode was asked for.
func long() bool {
	v, _ := strconv.ParseBool(os.Getenv("CLOUDROLE_FAULTS_LONG"))
	return v
}

// scale returns quick in the bounded mode and full in the longer one.
func scale(quick, full int) int {
	if long() {
		return full
	}
	return quick
}

// waitFor polls cond until it holds or limit passes, and says whether it
// held. For conditions nothing notifies us of (the process table).
func waitFor(cond func() bool, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}
