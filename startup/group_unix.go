//go:build unix

package startup

import (
	"os/exec"
	"syscall"
)

func terminateGroup(cmd *exec.Cmd) bool {
	if cmd.Process == nil {
		return false
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	return true
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
