//go:build unix

package startup

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// A program started InOwnGroup is ended with what it spawned: by
// TerminateGroup (SIGTERM) when it heeds it, by KillGroup when it ignores
// it.
func TestGroupHelpers(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		kill         bool
	}{
		{"terminate", `sleep 1000 & echo $! > child; echo $$ > self; wait`, false},
		{"kill", `trap '' TERM; sh -c 'trap "" TERM; sleep 1000' & echo $! > child; echo $$ > self; while :; do sleep 1; done`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("sh", "-c", tc.script)
			cmd.Dir = dir
			InOwnGroup(cmd)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			child, self := readPid(t, filepath.Join(dir, "child")), readPid(t, filepath.Join(dir, "self"))
			if !TerminateGroup(cmd) {
				t.Fatal("TerminateGroup reported no signal on Unix")
			}
			if tc.kill {
				KillGroup(cmd)
			}
			<-done
			waitGone(t, self)
			waitGone(t, child)
		})
	}
}
