//go:build !windows

package cloudrole

// runAsService reports whether the process was started by the Windows
// service manager: never here. systemd needs no special run mode: it
// sends SIGTERM, which the host handles, and reads sd_notify messages.
func runAsService() bool { return false }

func runService(string, *program) int { return 1 }
