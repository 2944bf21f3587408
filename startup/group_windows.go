//go:build windows

package startup

import (
	"os/exec"
	"strconv"
)

func terminateGroup(*exec.Cmd) bool { return false }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	_ = exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid)).Run()
}
