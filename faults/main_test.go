package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"go.uber.org/goleak"
)

// The binaries of the process scenarios, built once: internal/testrole
// (lifecycle behaviour by settings), internal/faultrole (a queue worker
// that records every job it finished), internal/natsserver (a
// nats-server process, to be SIGKILLed) and internal/durablerole (a
// durable hub's worker that records every activity it ran).
var testroleBin, faultroleBin, natsserverBin, durableroleBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cloudrole-faults")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testroleBin = filepath.Join(dir, "testrole")
	faultroleBin = filepath.Join(dir, "faultrole")
	natsserverBin = filepath.Join(dir, "natsserver")
	durableroleBin = filepath.Join(dir, "durablerole")
	build := exec.Command("go", "build", "-o", dir+"/",
		"github.com/cloudrole/cloudrole/internal/testrole", "github.com/cloudrole/cloudrole/internal/faultrole",
		"github.com/cloudrole/cloudrole/internal/natsserver", "github.com/cloudrole/cloudrole/internal/durablerole")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the role binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(testutil.ServerGoroutines...); err != nil {
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
var waitFor = testutil.Poll
