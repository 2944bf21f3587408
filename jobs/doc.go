// Package jobs runs WebJobs-style jobs whose runs are PowerShell-style job
// objects: continuous, triggered and scheduled jobs, as Go functions or
// external programs, across a fleet of instances on one NATS, with the
// same code on one machine or many.
//
// # Jobs
//
// A Job is a Go function (Func) or an external program (Command), with a
// name that follows WebJobs' rule (ValidName). Role code adds Go jobs with
// Add(ctx, job) in OnStart or Run; the host adds the programs of its
// config and of its jobs folder. Each instance that should run a job
// defines it; a Runner publishes the definitions it has in NATS, so a
// client knows whether any instance can run a job (Start fails with
// ErrUnknownJob otherwise).
//
//   - Continuous jobs start with the instance and are started again when
//     they end, after the tasks package's backoff (100 ms doubling to
//     30 s), on every instance — or, with Singleton, on the one instance
//     holding the job's lease (tasks.Singleton on NATS KV); the others
//     show it inactive and take over when the holder stops or dies.
//   - Triggered jobs run when started: Client.Start puts a trigger on the
//     job's own queue (package queue), and one instance that defines the
//     job takes it and runs it (Job.Concurrency at a time per instance).
//     Start returns the run's ID at once. A queue per job, rather than one
//     for all, lets only the instances that define a job take its
//     triggers (during a rolling upgrade some may not), and caps each
//     job's queued runs on its own (Options.MaxQueued).
//   - Scheduled jobs are triggered jobs with an NCRONTAB Schedule
//     ("0 */15 * * * *", six fields with seconds, as WebJobs' settings.job).
//
// # Programs and job folders
//
// An external program runs the way startup tasks run (package startup):
// directly, no shell unless it names one, in a process group of its own,
// every stdout line stored at INFO and every stderr line at ERROR. Its
// environment is the host's, the role identity (CLOUDROLE_ROLE, ...), the
// job's Env, then CLOUDROLE_JOB_NAME, CLOUDROLE_JOB_RUN_ID,
// CLOUDROLE_JOB_TRIGGER and WebJobs' names: WEBJOBS_NAME, WEBJOBS_TYPE
// (continuous or triggered), WEBJOBS_RUN_ID, WEBJOBS_PATH (the job's
// folder), WEBJOBS_DATA_PATH (DataDir/jobs/<type>/<name>, kept between
// runs), WEBJOBS_SHUTDOWN_FILE and WEBJOBS_COMMAND_ARGUMENTS (the run's
// arguments joined by spaces; they also follow the command). Exit code 0
// completes the run; any other fails it, as does a program that cannot
// start (not found, not executable), with the reason in Run.Error.
//
// A jobs folder (Options.Dir) has WebJobs' layout: continuous/<name>/ and
// triggered/<name>/, the folder's name being the job's. Its entry point
// follows WebJobs' rule: a file named run.<ext> of a supported type wins,
// else the first supported file by name, types taken in Kudu's order —
// .cmd, .bat and .exe (Windows; elsewhere, an executable file without an
// extension), .ps1 (pwsh), .sh (bash, else sh), .py (python3, else
// python), .php (php), .js (node), .jar (java -jar). An optional
// settings.job (JSON; comments allowed, as Json.NET allows them) takes
// WebJobs' keys: schedule, is_singleton, stopping_wait_time (seconds; 0
// kills at once), is_in_place, run_mode (continuous, scheduled or
// on_demand, over the folder's type), shutdownGraceTimeLimit (seconds, a
// cap on the stopping wait) and using_sdk (accepted, ignored). Unknown
// keys and bad values are errors naming the file, the line and the key
// (a *FileError, wrapping ErrBadJob). LoadDir reads a folder, as the host
// does before it starts anything; a running Runner looks again every
// ScanInterval and picks up new, changed and removed folders, a broken
// change keeping the last good definition. Unless is_in_place is true, a
// program runs in a copy of its folder (made again when its files change),
// so the folder can be replaced during a run, as WebJobs does.
//
// # Runs
//
// Every run is a Run record in NATS, readable from any process, also after
// the instance that ran it is gone: its ID ("<job>.<UTC time>-<suffix>"),
// job, trigger (manual, api, schedule or continuous, with arguments), the
// instance running it, its State with PowerShell's names, start and end
// times, exit code or error, and output counts. Output lines (stdout at
// INFO, stderr at ERROR, each with the time it was read) are stored as
// they are produced, one message per line, so they can be followed live
// (Follow) and read later (Receive).
//
// # Exactly one instance, once per fire time
//
// A triggered run executes on exactly one instance: the trigger is a queue
// message (delivered to one worker at a time, redelivered if its worker
// dies before the run's end is recorded), and the instance that takes it
// claims the run by writing its record from NotStarted to Running with a
// compare-and-set on the record's revision. Only one write can win, so a
// redelivered or duplicated trigger never runs twice: whoever finds the
// record claimed, ended or stopped just acknowledges the message.
//
// A schedule fires once per fire time across the fleet: every instance
// that defines the job fires, but a fire's run ID is the fire time itself
// (<job>.<fire time>-cron), the queue deduplicates its trigger by that ID,
// and the claim above runs it once. A scheduled job never overlaps
// itself: a fire while a run is queued or running is skipped (counted in
// the status), and, like a singleton triggered job, its runs hold the
// job's lease while they run: a run that finds it held (two starts racing)
// is recorded Failed without running. Start refuses a second run of a
// singleton or scheduled job with ErrAlreadyRunning (HTTP 409).
//
// # Disconnected, then Failed
//
// The instance running a run rewrites its record every Heartbeat (5 s).
// A Running record older than three heartbeats reads as Disconnected: its
// instance was killed, crashed or lost NATS, and the run is not known to
// be over. It turns Failed when the fleet's sweeper (one instance at a
// time, on a lease) has seen the same revision of the record for
// FailAfter (1 min) on its own clock; its error names the instance. A
// Disconnected run is not run again: a program may not be safe to repeat.
// A trigger whose instance died before claiming it is not lost: the queue
// redelivers it to another instance. If the lost instance was only cut
// off and comes back, its next heartbeat finds the record ended, and it
// stops the run without recording over it.
//
// # Stopping
//
// Client.Stop marks the record and tells the instance running it (a core
// NATS request; without an answer that instance sees the mark in its next
// heartbeat); a queued run is Stopped at once. An instance's stop
// (Runner.Stop, which the host calls before OnStop) and a changed or
// removed job folder (for a continuous job) end runs the same way. A Go
// job's context is cancelled with a cause (ErrStopRequested,
// ErrRunnerStopped, ErrJobChanged); one that does not return within its
// StoppingWait (5 s) is abandoned, its goroutine left running and counted
// in Status. An external program is stopped as WebJobs stops one: its
// WEBJOBS_SHUTDOWN_FILE is created, its process group gets SIGTERM, and
// after its StoppingWait (stopping_wait_time) the whole group gets
// SIGKILL. On Windows, which has no SIGTERM for such a group, the shutdown
// file is the request, and taskkill /T /F ends the tree after the wait. The
// wait never runs past the host's stop deadline: during Runner.Stop it is
// at most half of the time left until its context's deadline. A run ends
// Stopped, with its output up to then kept.
//
// # Control
//
// Three ways, which agree because they read and write the same records:
// the Client (Start, Get, List, Wait, Receive, Follow, Stop; from any
// process on the role's NATS), HTTP (Routes, which the host mounts under
// /jobs on its health server, where control actions need an operator
// token, the console's; Routes on a mux of your own defaults to
// LoopbackOnly), and the jobs verbs of every role binary (jobs, jobs run, get,
// wait, receive [--keep], stop, history), which reach the running role's
// NATS as its other verbs do and never start a server.
//
// Receive hands each line over once, across every client and process, as
// Receive-Job does: a cursor per run in NATS moves past what was returned,
// with a compare-and-set, so concurrent receivers never share a line.
// Unlike Receive-Job, received output stays stored (WebJobs' dashboard
// keeps it): with Keep, Receive returns all of it and moves nothing.
// HasMoreData (in Get) is whether output was stored past the cursor.
//
// # Bad input
//
// Arguments are refused (ErrBadArgs) when a program could not receive
// them: a NUL byte, invalid UTF-8, more than MaxArgs or MaxArgsBytes. An
// unknown job is ErrUnknownJob, an unknown or pruned run ErrNotFound, a
// malformed run ID ErrBadRunID, a flood of starts past MaxQueued
// ErrTooManyQueued. A program that is not found or not executable fails
// its run with the reason; a Go job's panic fails its run with the stack
// in its stderr output. None of these reach the role.
//
// # History
//
// A job keeps its newest Options.History ended runs (50, as WebJobs), and
// no more output than Options.HistoryBytes (64 MiB) over them; older runs
// are removed with their output when a run ends. One run's output is kept
// within HistoryBytes too, as a log rotates: once it passes it by a
// quarter, its oldest lines are removed (counted in Run.Dropped), so a
// continuous job that runs for weeks keeps its latest output. A line longer than 64 KiB is stored as several lines of
// 64 KiB; invalid UTF-8 and control characters other than tab are stored
// as U+FFFD, so binary garbage cannot reach a reader's terminal as escape
// sequences.
//
// # Storage
//
// In the KV bucket cloudrole_jobs: run.<run ID> (the Run record as JSON),
// cursor.<run ID> (the output sequence Receive handed over) and def.<job>
// (a Definition, kept alive by a per-key TTL by the runners that define
// it). In the stream cloudrole_jobs_output: one message per line, subject
// cloudrole.jobs.output.<run ID>, body a stream byte ('O' or 'E'), the
// time (8 bytes, Unix nanoseconds) and the text. The queue
// cloudrole-job-<job> holds a triggered job's triggers. Stop requests go
// to cloudrole.jobs.stop.<run ID> (core NATS). Leases: jobs.<job> and
// jobs.sweeper in the queue package's lock bucket.
package jobs
