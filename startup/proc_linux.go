//go:build linux

package startup

import "syscall"

// parentDeathSignal has the kernel SIGKILL the task when the host process
// dies, however it dies (a SIGKILL of the host included): under a terminal
// or in a container nothing else would clean the task up. The kernel sends
// it when the thread that started the task exits; Go keeps its threads for
// the life of the process (only a goroutine that exits while locked to its
// thread takes the thread with it, and cloudrole starts tasks from none).
// Only the task itself gets the signal: its own children are reparented
// and live on unless it arranges their end (exec the real program rather
// than forking it, or run under systemd, whose unit stops the whole
// control group).
func parentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
