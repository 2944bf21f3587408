//go:build unix && !linux

package startup

import "syscall"

// parentDeathSignal does nothing here: only Linux can have the kernel
// signal a child when its parent dies. A SIGKILLed host leaves its tasks
// running; a service manager that stops the whole service (launchd, rc)
// ends them.
func parentDeathSignal(*syscall.SysProcAttr) {}
