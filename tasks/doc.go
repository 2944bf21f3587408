// Package tasks supervises the background tasks a role runs inside Run.
//
// A Group is bound to a context (Run's) and runs named tasks, each in one
// goroutine of its own:
//
//	g := tasks.NewGroup(ctx, tasks.Options{Name: "worker"})
//	g.Go("poller", poll, tasks.Restart(tasks.OnFailure), tasks.StallAfter(30*time.Second))
//	g.Periodic("flush", time.Minute, flush)
//	g.Cron("report", "0 */5 * * * *", report, tasks.Location(loc), tasks.Misfire(tasks.Skip))
//	g.Go("leader-only", lead, tasks.Singleton(locker))
//	return g.Wait() // nil when ctx ends; the *FatalError that ended the group
//
// What the package promises:
//
//   - Isolation. A task that panics (recovered, logged with its stack) or
//     returns restarts alone, after an exponential backoff with jitter
//     (github.com/sethvargo/go-retry), per its restart policy: Always,
//     OnFailure or Never. The other tasks never notice.
//   - Escalation. An error marked with Fatal (found with errors.As through
//     any wrapping) cancels every task and Wait returns a *FatalError naming
//     the task, so Run returns it and the host recycles the role. A task
//     restarting more than its intensity allows (Options.MaxRestarts within
//     Options.RestartWindow) escalates the same way (ErrIntensity).
//   - Stalls. A task with StallAfter calls Beat(ctx) to show it is alive; a
//     run silent past its limit is cancelled (cause ErrStalled) and
//     restarted. Goroutines cannot be killed: a run that ignores
//     cancellation for Options.Grace is abandoned and ends the group
//     (ErrAbandoned), so the role recycles.
//   - Schedules. Periodic runs a task, waits the interval after it returned,
//     and runs it again; Cron follows a 6-field NCRONTAB spec with seconds,
//     as WebJobs and Azure Functions do ("0 */5 * * * *"), in a time zone of
//     your choice, with an explicit misfire policy and optional run on
//     start. Runs of one task never overlap. Across daylight saving a
//     repeated local time fires once and a skipped one fires at the moment
//     of the jump (see CronSchedule). ParseCron checks a spec and previews
//     its fire times. Specs are parsed by github.com/netresearch/go-cron, a
//     maintained fork of robfig/cron; the DST rules are cloudrole's.
//   - Singletons. Singleton(locker) runs a task on one instance at a time
//     through the Locker interface; the others show as inactive and keep
//     trying. NewLocalLocker is a Locker for one process; package queue has
//     one on NATS KV for many machines. A run reads its lease's fencing
//     token with FencingToken(ctx) and passes it with its writes to a store
//     that fences (queue.FencedPut), so a holder that lost the lock without
//     noticing cannot overwrite its successor's work.
//   - Visibility. Status returns a JSON-marshallable snapshot of every
//     task (state, restarts, last error and panic, last heartbeat, next
//     run); when the context carries a host (internal/hostctx) the group
//     shows it in the host's /status while it runs. Typed events (EventPanic,
//     EventBackoff, ...) go to Options.OnEvent, logs to Options.Logger.
//   - Time is injected (Options.Clock, a clockwork.Clock), so tests drive
//     backoff, stalls and schedules with a fake clock instead of sleeping.
//   - Cost. An idle task is one goroutine and a small struct: restarts,
//     schedules and waits happen in the task's own goroutine; stall checks
//     and lease renewals are clock timers that use no goroutine until they
//     fire.
//
// Cancellation always carries a cause (context.Cause): the group's own
// (ErrGroupStopped after Stop, the *FatalError after a fatal error, or the
// parent context's), ErrStalled for a stalled run, ErrLeaseLost for a
// Singleton that lost its lock.
//
// Compared with golang.org/x/sync/errgroup and github.com/oklog/run, which
// end the whole group at the first error and do not recover panics, a Group
// keeps the others running and restarts the failed task; use them when any
// failure should end the work, and tasks when the work must keep going.
package tasks
