package startup

import "os/exec"

// Process groups for other packages that run programs the way startup
// tasks run (package jobs): call InOwnGroup before cmd.Start, then
// TerminateGroup and KillGroup to end what the program started.

// InOwnGroup makes cmd start in a process group of its own, so that
// signalling the group reaches everything the program spawned, and, on
// Linux, has the kernel SIGKILL the program if the host dies (see the
// package doc: If the host dies). On Windows the group is a new console
// process group. Call it before cmd.Start; it replaces cmd.SysProcAttr.
func InOwnGroup(cmd *exec.Cmd) { setProcessGroup(cmd) }

// TerminateGroup asks the process group of a started cmd to end: SIGTERM
// on Unix. Windows has no such request for a console-less group, so there
// it does nothing and returns false: wait, then KillGroup.
func TerminateGroup(cmd *exec.Cmd) bool { return terminateGroup(cmd) }

// KillGroup ends the process group of a started cmd at once: SIGKILL on
// Unix, taskkill /T /F (the whole tree) on Windows. A group already gone
// is no error: the goal is that nothing is left.
func KillGroup(cmd *exec.Cmd) { killGroup(cmd) }
