// Package queue gives roles durable priority queues on NATS JetStream:
// embedded in the process by default, an external NATS cluster for scale,
// with the same code either way.
//
// # Connection
//
// A Provider, made once per process by the host from the role's NATS
// configuration, hands out the one shared Client. It starts nothing until
// the first Client call (roles that use no queue start no server), then
// either runs an embedded nats-server with JetStream (storage under
// Options.StoreDir, listening on loopback only) or dials Options.URL. It
// outlives in-process recycles of the role; the host closes it after the
// last OnStop. Role code gets the client with Connect(ctx).
//
// One store, one process: nats-server does not lock its store, and two
// servers on one store lose jobs silently. The Provider locks StoreDir
// (Provider.LockStore, which the host calls before anything starts; the
// first Client otherwise) until Close; the OS drops the lock when the
// process dies. Another holder makes it fail with ErrStoreLocked, naming
// the directory and the holder's PID. The lock file records the server's
// client URL, which tools in other processes read with EmbeddedURL.
//
// An external server that cannot be reached makes Connect wait, not fail:
// it retries with backoff (100 ms doubling to 2 s, with jitter) until the
// server accepts the connection, ctx ends or the Provider is closed. A
// server not up yet, an outage and a refused password ("authorization
// violation") are treated alike, since each is fixed on the server or in
// its config, and the role carries on by itself once the server accepts
// it. Meanwhile Check names the server (its URL without credentials) and
// the last error, Status shows the state "connecting" with the attempts
// and the last error, and the log has one line per distinct error and a
// reminder once a minute. So for the host a role waiting in Connect is
// live and not ready, never a failed instance: no recycle, no crash-loop
// backoff, no freeze. Once connected, outages are nats.go's reconnects,
// retried forever as well.
//
// Options.StoreDir, Sync and Listen configure the embedded server and are
// refused with a URL. An external server's durability is its own config:
// to have every write on disk before it is acknowledged, as the embedded
// server's default does, set "jetstream { sync_interval: always }" on
// every server. (The embedded server under Sync "always" gets there by a
// group commit on Linux: it runs without per-write fsync, and an Enqueue
// returns, an ack counts as confirmed, a dead letter or a handed-back copy
// is relied on, only after one syncfs(2) of the store's file system that
// started after the server acknowledged the write, shared by every write
// waiting then. Elsewhere the server fsyncs each write itself.)
//
// Provider.Check (the host's readiness) and Provider.Status report the
// connection state and, with an external server, whether the open queues'
// streams have leaders: on a cluster a stream loses its leader when its
// server dies or the cluster loses quorum, and then nothing is enqueued or
// processed although the connection is up. A monitor owned by the Client
// asks about each level's stream (and, when replicated, its consumer)
// every second in the background, every 250 ms while something is wrong,
// and keeps its verdict, so Check never waits on the network; an error
// wrapping ErrNoLeader names the queue, the level and the stream, and
// clears by itself once a leader is elected. The embedded server runs no
// monitor: its streams cannot lose their leader while the process lives.
//
// Durability: the embedded server syncs every write to disk before it
// acknowledges a publish (Options.Sync "always", the default). nats-server's
// own default is to sync every two minutes, so an OS crash or power loss can
// lose jobs whose Enqueue had already returned: a queue that promises
// at-least-once must not do that by default. An interval ("2m") is faster
// and survives a process crash, but not an OS crash.
//
// # Queues and priorities
//
// A queue is one JetStream WorkQueue stream per priority level
// (CRQ_<name>_p<level>, subject cloudrole.queue.<name>.<level>), each with
// one durable pull consumer, a dead-letter stream (CRQ_<name>_DLQ) and,
// with Config.TrackStatus, a KV bucket of job states (CRQ_<name>_status).
// A stream per level, rather than one stream with a filtered consumer per
// level, keeps an ack cheap: deleting an acknowledged job from a stream
// with several filtered consumers makes the server load the job and ask
// every other consumer whether it still needs it, which cost about a
// tenth of consume throughput. It also gives each level its own backlog
// cap and, on a cluster, its own stream leader.
// Levels are integers, 0 the highest; the default three are High, Normal
// and Low, and an enqueue without WithPriority uses the middle level.
//
// Dispatch is strict by default: whenever a worker has a free slot it takes
// the next job from the highest level that has one. It fetches only as many
// jobs as it has free slots (never a prefetch buffer), so a high-priority
// job never waits behind low-priority jobs held by a worker. Within that
// bound it keeps up to four pull requests open at once, so a busy worker
// does not wait a round trip between batches: jobs running plus jobs asked
// for never exceed Concurrency. JetStream's
// consumer priority groups rank pulling clients, not messages, and are not
// used. An idle worker is woken by a bell on cloudrole.bell.<name>.<level>:
// rung by the producer once the server stored its jobs (one core message
// per Enqueue, one or two per level of an EnqueueBatch), by the schedule
// stream for each scheduled job falling due, and, with Fairness, by the
// level stream for each stored job (see bell.go). Otherwise it looks again
// every PollInterval and when a retry delay it set ends: a job published to
// a level's subject by another tool is found that way.
//
// Anti-starvation (WorkerOptions.Aging, off by default): a lower level
// that has had jobs waiting, without this worker taking one from it, for
// Aging or longer gets the next free slot ahead of higher levels, for one
// job; its clock then restarts. The clock of a level starts when the
// worker first learns it holds jobs (at start, on a new job, on a poll)
// and restarts whenever the worker takes a job from it. So under a steady
// stream of high-priority work each lower level still gets at least one job
// per Aging period per worker, and the oldest waiting job of a level is
// served within about Aging times its position in that level.
//
// Weighted shares (WorkerOptions.Shares, off by default) replace strict
// order with proportions: with shares 6, 3, 1 and all levels holding jobs,
// six in ten jobs started come from level 0, three from level 1 and one
// from level 2 (smooth weighted round robin over the levels that have
// jobs; a level without jobs gives its turn away). Shares fetch one job per
// request, which costs throughput.
//
// # Declaring, opening and changing a queue
//
// A queue's configuration is stored with it, where every process can read
// it: as versioned JSON in the Metadata of its level-0 stream (key
// cloudrole.queue.config, shown by `nats stream info`), since several
// settings (MaxDeliver, the retry delays, TrackStatus, DefaultPriority,
// MaxResult, StatusTTL) have no stream or consumer field. Three calls use it:
//
//   - Client.Queue declares the queue, as the process that owns it (its
//     workers) should. It creates what is absent. If the queue exists with
//     other settings (compared after defaults) it changes nothing and
//     returns a *ConfigMismatchError, wrapping ErrConfigMismatch, that lists
//     every differing setting with its stored and declared value. Declaring
//     the stored settings again sends no update to the server, so every
//     instance may declare its queue at start.
//   - Client.OpenQueue uses the queue as stored: for producers, tools and
//     dashboards, which must not decide its settings. (A producer that
//     declared the defaults would otherwise have reset the worker's AckWait
//     and MaxBacklog, or had its jobs go without status records.) Errors
//     wrap ErrNotFound when the queue does not exist.
//   - Client.UpdateQueue creates or changes the queue explicitly: its
//     streams, consumers, status bucket and record.
//
// Jobs are never left at a level no worker reads. A changed level count is
// a mismatch for Queue; UpdateQueue adds the streams of new levels, and
// removes levels only while they hold no job (otherwise it changes nothing
// and its error, wrapping ErrStrandedJobs, names each level, its stream and
// its jobs). A level is removed by moving its stream off the level's
// subject, so a producer still using the old level count gets an error
// instead of storing a job, checking it is still empty, and deleting it.
// Queue and OpenQueue refuse, with ErrStrandedJobs, a queue with a stream
// above its levels (CRQ_<name>_p<n>, n >= Levels) that holds jobs, as
// level changes of earlier cloudrole versions left; UpdateQueue to that
// many levels lets the workers drain it.
//
// A Queue keeps the configuration it was opened with. A worker or producer
// running in another process does not see an UpdateQueue until it opens the
// queue again (restarts): after adding a level, restart the workers before
// the producers that will use it; before removing one, stop enqueuing to it
// and let the workers drain it.
//
// Queue and OpenQueue also add the parts a queue made by an earlier
// cloudrole lacks — the schedule stream, its consumers, the levels'
// sources of scheduled jobs and, with TrackStatus, the control bucket —
// changing none of its settings; they are parts, not settings, and a
// queue without them cannot take scheduled jobs.
//
// A queue created by an earlier cloudrole has no record. Queue adopts it,
// recording the declared configuration, when the settings its streams show
// agree with the declaration: the level count (one more than its highest
// level stream), MaxBacklog, MaxPayload, Replicas and DuplicateWindow of
// the level streams, the consumer's AckWait, the dead-letter MaxAge, and
// whether a status bucket exists and its TTL. Otherwise the mismatch error
// (Derived) lists those that differ. OpenQueue refuses such a queue
// (ErrNotFound) until it has been declared once, since the settings its
// streams do not show would be guesses.
//
// # Outcomes
//
// A handler's nil acknowledges the job. An error is retried after an
// exponential, jittered delay (a negative acknowledgement with delay, never
// an immediate redelivery); Job.Attempt counts deliveries from 1. After
// Config.MaxDeliver attempts, or at once for an error wrapping Permanent,
// the job is stored in the dead-letter stream with its error, attempts,
// time and original headers, then terminated; it never blocks the queue. A
// job redelivered more than MaxDeliver times without an outcome (its
// workers kept dying) is dead-lettered without running. A panic in a
// handler is recovered and counts as an error. Dead letters are listed with
// DeadLetters and put back with Requeue.
//
// Acknowledgements are confirmed: the last ack of each level in a burst
// asks for the server's reply, which (a consumer handles a connection's
// acks in order) confirms the burst. A worker lets at most Concurrency
// finished jobs await confirmation; past that, finished jobs keep their
// slots. So at most Concurrency jobs run and at most Concurrency more wait
// for the server, whatever the disk's fsync rate: after a crash of the
// worker (or of the embedded server with it) at most 2 × Concurrency jobs
// run again, and acks never queue long enough for leases to expire. An
// ack unconfirmed after AckWait is given up (its job may come back).
//
// Long handlers keep their lease: the worker sends an in-progress
// heartbeat every AckWait/3. A worker that dies mid-job stops them, and the
// job is delivered to another worker after AckWait. On stop, Work stops
// fetching, lets in-flight handlers finish within DrainTimeout, and hands
// back the rest at once.
//
// # Attempts that do not count
//
// Two ways for a job to run again do not use up an attempt, since the job
// did not fail. A stop: a job handed back because its worker is stopping
// (a drain, a deploy, a recycle) starts again as the same attempt, so ten
// deploys in a row in the middle of a long job do not dead-letter it. A
// snooze: a handler that returns Snooze(d) has its job run again after d,
// as the same attempt, waiting in the schedule stream meanwhile (state
// scheduled); a job may snooze at most Config.MaxSnoozes times (100 by
// default), and the snooze after that dead-letters it with an error that
// says so, so a job cannot snooze for ever unnoticed. Neither is a
// negative acknowledgement, which the server would count as a delivery:
// the worker stores a copy of the job whose Cloudrole-Attempts-Used header
// carries the attempts used before, then terminates the delivery it held
// (the copy goes to the end of its level). A failure between the two
// stores the job twice, never zero times; a copy that cannot be stored
// (the connection is gone) falls back to a nak, which counts. A crash is
// not a stop: the job of a worker that died comes back after AckWait and
// that attempt counts, so a job that kills its worker is dead-lettered
// after MaxDeliver crashes.
//
// # Progress
//
// A running handler reports how far it has got with Job.SetProgress (a
// number in its own unit and a short message). The worker's status section
// lists its running jobs with their progress, and with TrackStatus the
// job's status record shows it too (JobStatus.Progress, kept in the final
// record). Writes to the record are throttled to one per
// WorkerOptions.ProgressInterval per job (1s by default), the latest value
// winning, so a chatty handler cannot flood NATS; SetProgress never blocks
// on the network.
//
// # Load leveling
//
// Enqueue waits for the server's acknowledgement, never for a worker;
// EnqueueBatch publishes asynchronously and waits for all acknowledgements.
// Enqueue's wait is bounded by its context's deadline or, when the context
// has none, by nats.go's default of 5 s. While a cluster fails over, an
// enqueue error says what happened and wraps ErrNoLeader (no server leads
// the stream: nothing was stored), ErrNotConfirmed (no acknowledgement in
// time: the job may or may not be stored) or ErrDuplicateInProgress (an
// earlier attempt with the same ID is still being stored). A retry with the
// same WithID is safe in every case: the queue stores an ID once within its
// DuplicateWindow. Without WithID, a retry after ErrNotConfirmed may store
// a second copy.
// A worker runs at most Concurrency handlers and, optionally, at most
// RateLimit jobs per second; the backlog waits in the stream. Config.
// MaxBacklog makes Enqueue fail fast with ErrBacklogFull instead of growing
// a level's stream without bound; the cap is per level, so a flood of
// low-priority jobs never blocks a high-priority enqueue.
//
// # Scheduled jobs
//
// WithDelay and WithAt enqueue a job to run later. The NATS server keeps
// it, not cloudrole: the job is a message in the queue's schedule stream
// (CRQ_<name>_sched) with a message schedule ("Nats-Schedule: @at <due>"),
// and at the due time the server itself stores a copy on the level's due
// subject, which the level's stream sources (through a flow-controlled
// durable consumer) onto the level. So a job scheduled for tomorrow
// survives restarts of every process and of the server, and falls due
// without any cloudrole process running; one due while the server was
// down is enqueued when it is back. JobStatus shows it as scheduled with
// its due time (found in the schedule stream when the queue has no status
// record of it, so also without TrackStatus), Job.Due carries the due time
// to the handler, and Cancel removes it.
//
// MaxBacklog counts a scheduled job from its due time. The schedule
// stream cannot be capped: the server refuses message schedules on a
// stream that discards new messages, and one that discards old ones would
// drop the oldest schedules. A job that falls due while its level is full
// waits in the schedule stream and the server moves it once there is room
// (it retries every two seconds or so), so the cap holds exactly and
// nothing is dropped; the job is late by as long as the level is full.
//
// Lateness: the server's scheduler arms its timer at least 250 ms ahead,
// and once it has fired anything it keeps to that tick (nats-server 2.15),
// so a scheduled job is 0 to 250 ms late, about 130 ms at the median,
// whether the worker is idle or busy (BENCHMARKS.md has the measured
// p50/p99; asynq's default forwarder is seconds late). A recurring
// schedule on whole seconds falls on the tick and fires within a few ms. A due time must be in the future and a delay
// positive (ErrBadSchedule otherwise: a past time is more likely a clock
// or time zone mistake than a wish). With WithID, scheduling a job whose
// ID is still scheduled at the same level replaces that schedule once the
// DuplicateWindow has passed (the server keeps one schedule per subject).
//
// # Recurring schedules
//
// Queue.SetSchedule declares a recurring schedule on a queue: a name, a
// 6-field NCRONTAB pattern with seconds ("0 */5 * * * *") and a time zone,
// or an interval (Every), the payload and the options of the jobs it
// fires (priority, key, headers, reply). The server keeps it as a message
// with a repeating message schedule in the schedule stream and fires it
// itself: at each fire time it stores one copy, which enters the level
// like a scheduled job. So each fire enqueues exactly one job across the
// fleet, with no leader election and no cloudrole process needed at fire
// time; the job's ID is <name>.<fire time> (Job.Due is the fire time).
// Declaring the same schedule again (every instance at its start) writes
// nothing, since the stored definition is compared first, and racing
// declarations store one; a changed definition replaces the old one.
// Schedules lists them with their next fire time, RemoveSchedule removes
// one. A 5-field pattern, a bad field, an unknown time zone, an interval
// under a second: each is refused with an error wrapping ErrBadSchedule
// that says what is wrong.
//
// A missed fire is not replayed. On a cluster the schedule stream's new
// leader carries on after its old leader is lost (in the 3-server test
// every fire time through a leader loss was enqueued once and none twice);
// while the stream has no leader at all (the cluster lost its quorum)
// nothing fires, and once a leader is back the schedule fires once and
// then on its fire times again: the fire times of the outage are skipped,
// not enqueued late one by one. (tasks.Cron with a misfire policy and a
// singleton is the choice when missed runs must be caught up, or when the
// work is code in the role rather than a job; the README compares them.)
//
// # Cancelling a job
//
// Queue.Cancel cancels a job wherever it is. A scheduled job not yet due
// is removed from the schedule stream (no status tracking needed). For
// the others, with TrackStatus, a cancel request is stored in the queue's
// control bucket (CRQ_<name>_ctl) and every worker of the queue watches
// that bucket: a worker that receives a job with a request terminates it
// unrun; one running it cancels the handler's context with the cause
// ErrCancelled and, whatever the handler returns, terminates the job (not
// retried, not dead-lettered). Either way its state becomes cancelled, the
// worker removes the request, and a JobCancelled event is emitted. Cancel
// of an unknown job wraps ErrNotFound, of a cancelled one
// ErrAlreadyCancelled, of a succeeded or dead one ErrFinished. A job that
// finishes at the very moment it is cancelled may end succeeded; its
// status says which. Cancel returns once the request is stored: the worker
// acts within moments, and a job it had received but not started when
// the request reached it starts and is cancelled at once. A worker of a
// queue with TrackStatus gives each handler a context of its own for this
// (without TrackStatus handlers share one, and Cancel cannot reach them).
//
// # Fleet-wide limits
//
// Config.FleetConcurrency caps the jobs of a queue running at once across
// every worker of every instance, and Config.FleetRateLimit the jobs
// started per second; WorkerOptions.Concurrency and RateLimit cap one
// worker. Both are kept by the server, as tokens: a stream of N token
// messages (CRQ_<name>_tokens, CRQ_<name>_rate) and a pull consumer of
// it. A worker asks the token consumer for as many tokens as it has free
// slots, asks the levels for at most as many jobs as it holds tokens (so
// it never holds a job it may not run, and a high-priority job is not
// stuck behind held ones), and gives a concurrency token back (a nak) as
// the handler returns; the server hands each token to one request at a
// time and serves waiting requests in turn. A rate token is spent when a
// job starts: given back at once with a delay of FleetRateBurst /
// FleetRateLimit, so at most FleetRateBurst jobs start in any such window
// and the long-run rate is at most FleetRateLimit. Tokens live under
// AckWait like jobs (the worker heartbeats those of running jobs), so a
// dead worker's tokens come back with its jobs; a stopping worker gives
// its spare ones back. Cost, only with a limit: a token request (one round
// trip, waited for on the server while no token is free) before the job
// requests, and a nak per job per limit; an idle worker takes and returns
// tokens on each poll. Changing N with UpdateQueue adds or removes tokens;
// a removed token held by a running job is simply not given out again.
//
// # Fairness by key
//
// With Config.Fairness, jobs may carry a key (WithKey: a tenant, a
// customer), and within a level the workers take turns among the keys
// that have jobs waiting (the jobs without a key take a turn too), so a
// flood of jobs from one key waits behind its own jobs only. Levels still
// come first: fairness orders the jobs of one level. A keyed job is stored
// on a subject of its key, cloudrole.queue.<name>.<level>.k.<key>, and
// each key with jobs has a durable consumer of its own on the level's
// stream (named from a hash of the key), made by the first worker that
// sees the key (from the job's bell, or from the stream's subjects when it
// starts) and removed by the server after an hour without requests: a
// JetStream consumer delivers in stream order, and no request can ask for
// another key's next job, so a consumer per key is what gives each key its
// own place in line. A worker splits its free slots among the keys that
// may hold jobs, one request each, in turn; so with k keys busy, a key's
// n jobs all start within about k*n starts plus what the worker's open
// requests hold (BENCHMARKS.md has the flood measured). Costs, only for
// queues with Fairness: a consumer per key with jobs; an ack of a fair
// level asks every consumer of the level whether it still needs the job
// (the stream has two subjects), and requests split among the keys are
// smaller: with ten keys busy a job costs about 1.7 times the CPU
// (BenchmarkThroughputFair). Fairness suits keys counted in tens to
// thousands per level, not one per job.
// UpdateQueue turns Fairness on or off; turning it off deletes the keys'
// consumers and the level's consumer takes their jobs.
//
// # Unique jobs
//
// WithUnique makes an enqueue unique beyond WithID's dedupe, which lasts
// the DuplicateWindow and is per level: the key is the job's ID (ByID), a
// key of the caller's, or one derived from the payload (its SHA-256), and
// it holds across every level, either for a period (Unique.For) or while
// the job is scheduled, queued or running (the worker that finishes it,
// succeeded, dead-lettered or cancelled, releases it; Cancel of a
// scheduled job releases it too). A duplicate is not enqueued: Enqueue
// returns the ID of the job holding the key with an error wrapping
// ErrDuplicate. Keys live in a KV bucket (CRQ_<name>_unique, made on the
// first unique enqueue) with per-key TTLs, created with a compare-and-set
// that exactly one racing enqueue wins; a key held while active still
// expires StatusTTL after the job's due time, so a job purged by hand
// cannot hold it for ever. Each unique enqueue costs one KV write more
// (a round trip; BENCHMARKS.md).
//
// # Headers
//
// cloudrole writes Cloudrole-Id (the job ID, unless the job is named by its
// stream sequence: see WithID) and Cloudrole-Reply, and Nats-Msg-Id when
// the producer gave an ID (dedupe within the queue's DuplicateWindow, per
// level); a plain job carries no header block at all. Messages published to a queue's subjects by
// other tools, or with damaged headers, are handled like any other job: the
// level comes from the subject, a missing or bad ID becomes
// "seq-<level>-<sequence>" (unique within the queue), a bad reply subject
// is ignored, and the worker logs what was wrong.
//
// # Events
//
// Client.Observe adds a function that receives the job events of every
// worker on the Client: JobStarted (with how long the job waited),
// JobSucceeded and JobFailed (with how long the handler took, the error
// and the retry delay), JobDeadLettered and JobHandedBack. They are
// delivered synchronously on the workers' goroutines, so an observer must
// be quick; with none, a worker pays one atomic load per event. Metrics
// and dashboards build on them.
//
// # Locks, checkpoints and idempotency
//
// Three helpers keep state in NATS KV buckets, shared by every instance.
// Locker implements the tasks lock interface, so singleton tasks exclude
// each other across machines: a lock is a key created only if absent with
// a per-key TTL kept on the server's clock (whole seconds, at least one),
// renewed by compare-and-set on its revision; the acquiring revision is the
// fencing token, and FencedPut refuses a write carrying an older token than
// one already stored. Checkpoints let a job save progress and resume after
// a crash; saves are compare-and-set, so a stale run cannot overwrite newer
// progress. Idempotency.Do runs a piece of work at most once per key for a
// TTL beyond the enqueue duplicate window; a crashed runner's claim expires
// after ClaimTimeout. If a runner dies after its effect but before the key
// is recorded as done, the work runs again, so effects should themselves be
// idempotent where that matters.
package queue
