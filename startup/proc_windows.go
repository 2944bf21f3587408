//go:build windows

package startup

import (
	"os/exec"
	"strconv"
	"syscall"
)

type winSignal int

const (
	sigTerm winSignal = iota
	sigKill
)

// setProcessGroup starts the child in a new process group, so console
// control events for the host do not reach it directly.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// signalGroup ends the task's process tree. Windows has no SIGTERM for
// console-less children, so both signals end the tree with taskkill /T /F.
func (p *proc) signalGroup(winSignal) {
	if p.cmd.Process == nil || !p.running() {
		return
	}
	exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(p.cmd.Process.Pid)).Run()
}
