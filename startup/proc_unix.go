//go:build unix

package startup

import (
	"os/exec"
	"syscall"
)

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// setProcessGroup puts the child in a new process group (its pid is the
// group id), so signalling the group reaches everything it spawned, and,
// where the OS can, has the kernel kill it if the host dies (see
// parentDeathSignal).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	parentDeathSignal(cmd.SysProcAttr)
}

// signalGroup signals the task's whole process group. Errors (the group is
// already gone) are ignored: the goal is that nothing is left.
func (p *proc) signalGroup(sig syscall.Signal) {
	if p.cmd.Process == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, sig)
}
