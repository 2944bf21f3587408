// Package cloudrole runs a role as a program.
//
//	func main() { cloudrole.Main(&myRole{}) }
//
// Main gives every role binary the same command line:
//
//	<binary> [run] [--config FILE]   run the role (the default verb)
//	<binary> validate --config FILE  check the config and exit
//	<binary> install [--print] ...   install as a systemd unit or Windows service
//	<binary> uninstall|start|stop|restart|status
//
// Under systemd (NOTIFY_SOCKET set) run sends READY=1 when the role is
// running, STOPPING=1 when its stop begins, STATUS= lines, and WATCHDOG=1
// at half of WATCHDOG_USEC while the host answers. Under the Windows
// service manager run answers its control requests itself and reports
// stop-pending progress until the graceful stop ends. A service stop is
// the graceful stop of SIGTERM, with the same deadline.
//
// The config file may also be named by the CLOUDROLE_CONFIG environment
// variable; without one the role runs on defaults and environment
// overrides. Main exits with the codes documented in package lifecycle
// (0 clean stop, 2 usage, 3 invalid config, 4 crash loop, 5 stop deadline
// passed, 6 forced by a second signal).
//
// The role API is in package role, the host in package lifecycle.
package cloudrole
