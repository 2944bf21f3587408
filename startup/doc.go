// Package startup runs a role instance's startup tasks, as Azure Cloud
// Services did before OnStart: programs that prepare the machine (install a
// dependency, warm a cache, run a migration) or run beside the role (an
// agent, a sidecar).
//
// Three kinds, as Azure's taskType:
//
//   - Simple tasks run one at a time, in declared order; the next starts
//     only after the previous exited 0. A non-zero exit, a timeout or a
//     command that cannot start fails the instance start.
//   - Background tasks start asynchronously; when the instance stops they
//     get SIGTERM, then SIGKILL after a grace period (5 s, but at most half
//     of what is left of the stop deadline) — their whole process group, so
//     nothing they spawned is left behind. Stopped that way they end
//     normally (logged at INFO); killed after ignoring SIGTERM, at WARN.
//   - Foreground tasks start asynchronously too, but the instance does not
//     finish stopping until they exit; at the stop deadline they are killed
//     with their group.
//
// Each task runs its command directly (no shell unless the command names
// one) in its own process group, with the host's environment plus the role
// identity variables (CLOUDROLE_ROLE, CLOUDROLE_INSTANCE_ID,
// CLOUDROLE_DEPLOYMENT, CLOUDROLE_INCARNATION, CLOUDROLE_DATA_DIR) plus its
// own. Every stdout line is logged at INFO and every stderr line at ERROR,
// tagged task=<name>; only the exit code decides failure. Results (state,
// exit code, duration) are reported for /status.
//
// # If the host dies
//
// A host that is SIGKILLed (or crashes) cannot stop its tasks. On Linux
// the kernel SIGKILLs each task process when the host dies (a parent-death
// signal), so none outlives it under a terminal or in a container. That
// reaches the task's own process only: children it forked are reparented
// and keep running unless the task execs its real program instead of
// forking it, or the role runs under systemd, which stops the whole unit's
// control group (the unit cloudrole installs does). Other systems have no
// parent-death signal; there, a service manager that stops the whole
// service is what cleans up.
//
// # Idempotency
//
// Startup tasks run on every instance start, and the host recycles
// instances in-process, so a task runs many times over a process's life. A
// task must therefore be idempotent. The usual idiom is a marker file in
// the role's data directory:
//
//	command: [sh, -c, 'test -f "$CLOUDROLE_DATA_DIR/.installed" || { ./install.sh && touch "$CLOUDROLE_DATA_DIR/.installed"; }']
package startup
