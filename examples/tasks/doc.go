// Command tasks shows supervised background tasks. Its Run starts a task
// group with four tasks:
//
//   - "counter" works steadily and beats a heartbeat; it never restarts.
//   - "flaky" panics now and then; it alone restarts, after a growing delay,
//     and its restart count, last panic and backoff show in /status.
//   - "sweep" is periodic: it runs, then waits 5 seconds after it finished,
//     so two sweeps never overlap however long one takes.
//   - "report" is a CRON task in the 6-field NCRONTAB format with seconds
//     used by WebJobs and Azure Functions: it fires at every 10th second.
//
// Watch them:
//
//	go run ./examples/tasks             # from the repository root
//	curl -s localhost:8081/status       # "components" → "tasks": each task's state, restarts, last panic, next run
package main
