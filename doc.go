// Package cloudrole runs a role as a program.
//
//	func main() { cloudrole.Main(&myRole{}) }
//
// Main gives every role binary the same command line:
//
//	<binary> [run] [--config FILE]   run the role (the default verb)
//	<binary> validate --config FILE  check the config and exit
//
// The config file may also be named by the CLOUDROLE_CONFIG environment
// variable; without one the role runs on defaults and environment
// overrides. Main exits with the codes documented in package lifecycle
// (0 clean stop, 2 usage, 3 invalid config, 4 crash loop, 5 stop deadline
// passed, 6 forced by a second signal).
//
// The role API is in package role, the host in package lifecycle.
package cloudrole
