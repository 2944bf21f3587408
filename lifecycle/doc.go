// Package lifecycle is the role host: it runs one role.Role as a long-lived
// process, in the Azure RoleEntryPoint model, and keeps it running.
//
// One instance at a time goes through
//
//	starting → (startup tasks) → [frozen] → onstart → ready → running → stopping
//
// and then either stopped (the process is stopping) or recycling, after
// which a new instance starts in the same process. The host promises:
//
//   - Startup tasks (package startup) run before OnStart on every instance
//     start; a failed simple task fails the start.
//   - Freeze: when the setting Freeze is true at the moment the host would
//     call OnStart or Run, it does not call it and idles in state frozen
//     (live, not ready, no restarts) until the setting turns false — the
//     config file is reloaded live, so no process restart is needed.
//   - OnStop runs after every OnStart that was called, successful or not, so
//     nothing leaks into the next instance.
//   - When Run returns (nil, an error, or a recovered panic), when the role
//     calls RequestRecycle, or when a Changing handler vetoes a settings
//     change, the instance recycles in-process and the reason is recorded.
//   - Crash loops back off: consecutive failed or short-lived instances wait
//     an exponentially growing, jittered delay (sethvargo/go-retry), reset
//     once an instance stays up for host.healthy_after. Failures are a
//     failed startup task, an error or panic of OnStart or Run, and a Run
//     that returned nil before healthy_after; RequestRecycle and a vetoed
//     change are deliberate and never count. After
//     host.max_failures consecutive failures the host freezes itself (the
//     default; a config change or SIGHUP resumes it) or exits with
//     ExitCrashLoop so a service manager takes over.
//   - Stop (SIGINT, SIGTERM, a service stop, Stop, or the context passed to
//     Run): readiness turns unhealthy at once, Run's context is cancelled
//     with the cause, OnStop runs, background startup tasks are stopped
//     (SIGTERM, then SIGKILL within the deadline) and foreground ones are
//     waited for. The whole stop — and every in-process recycle — has a deadline
//     (host.stop_timeout, 5 minutes by default). Past it the host logs the
//     hook it is stuck in and every goroutine's stack, kills the startup
//     tasks and exits with ExitStopTimeout. A second signal exits at once
//     with ExitForced.
//   - The health endpoint (package health) answers for the whole life of
//     Run: liveness while the host's control loop responds, readiness only
//     when the instance is ready and not busy, and a status snapshot that
//     never contains setting values or credentials.
//
// The host is built from oklog/run actors: the instance loop, the signal
// handler, the control loop (config reload, liveness) and the health server.
package lifecycle
