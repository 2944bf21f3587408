// Package jsbackend is a go-workflows backend on NATS JetStream: one
// stream holds every workflow instance, its history, its task queues and
// its timers, on an embedded server or a cluster with the same code.
//
// # Storage
//
// A backend owns one stream, DURABLE_<namespace>, with Limits retention
// and the subjects durable.<namespace>.>. Each workflow instance has a log:
// the messages under durable.<ns>.e.<instance>.> (identifiers escaped
// into tokens). Three kinds of message go into it:
//
//   - snapshot-bearing messages (…<execution>.m.…): the start of an
//     execution, and each workflow task's commit. Every one carries the
//     instance's whole state (the snapshot: execution, state, history
//     length, how far its events have been consumed, whether a task is
//     due), so the last such message of an instance is its current state
//     and the last one of an execution is that execution's state. A commit
//     also carries the events the task executed: the history of an
//     execution is the concatenation of its commits.
//   - events (…v.w.<queue>): signals, cancellations, activity results,
//     events from other instances, fired timers. Plain appends.
//   - activity tasks (…a.<queue>), when a commit schedules several.
//
// Timers are message schedules (durable.<ns>.s.…): the server itself
// stores the fired event into the log at the due time, survives restarts
// and needs no timer process of ours. A cancelled timer's schedule is
// replaced by an empty message (a subject rollup), which never fires.
//
// Task queues are durable pull consumers with subject filters: the
// workflow consumer of a queue delivers the task-bearing snapshots and the
// events of instances on it, the activity consumer the activity tasks.
// A delivery's lease is go-workflows' lock timeout (the consumer's
// AckWait, renewed by Extend*Task with in-progress acks).
//
// # Atomicity
//
// Every writer of a snapshot (a start, a commit, a termination) does a
// compare-and-set on the whole log: its message carries
// Nats-Expected-Last-Subject-Sequence for the subject filter of the log,
// so it is stored only if nothing was appended since the writer read the
// state. One expectation subject for every writer also makes a replicated
// stream serialise them. A workflow task's completion is one write: the
// history, the new snapshot and every effect (activity tasks, timer
// schedules and cancellations, events to other instances, the start of a
// child or of the next execution, each child start itself a
// compare-and-set on the child's log) go in one message or, when there is
// more than one, in one JetStream atomic batch (all or nothing, one
// stream). A crash before the write leaves the old state, and the task is
// delivered again after its lease; after the write, the new state. The
// usual step of a sequential workflow (a task that schedules one activity)
// is a single message: the commit is that activity's task.
//
// Events are plain appends with no compare-and-set, so they never contend
// with each other or with a running task. What makes them safe is the
// rule for the current task (currentTask): while an instance is queued,
// its current task is the one its snapshot names; while idle, it is the
// first event after the snapshot's cursor. A task that goes idle does so
// with a compare-and-set, which fails if an event landed after it read the
// log; it then stays queued (its commit becomes the next task). An event
// that lands after the idle commit is itself delivered and is then the
// current task. A delivery that is not the current task (an event a
// running task will pick up, a task left over by a crash) is acknowledged
// and dropped.
//
// Replays are idempotent. A start or a commit whose answer was lost is
// recognised by its identity when retried. An activity's result carries
// the activity's ID as its message ID (the server drops a repeat within
// the duplicate window) and names the activity, so a workflow task never
// sees two results of one activity; a redelivered activity task whose
// result is already in the log is acknowledged without running: a
// completed activity never runs again.
//
// # Reads
//
// A single-replica stream is read with direct gets (batched). A
// replicated stream's followers also answer direct gets and may be a
// moment behind, so reads that decide a write go to the stream leader;
// listings may lag.
//
// # Costs
//
// Listing executions (diagnostics, stats, RemoveWorkflowInstances) looks
// at every snapshot subject of the stream and reads each execution's
// snapshot: it is meant for operations, not for the task path. An
// execution's messages stay until it is removed (RemoveWorkflowInstance,
// RemoveWorkflowInstances, or WithRemoveContinuedAsNewInstances for
// executions ended by ContinueAsNew); each holds a few subjects of the
// stream's index.
package jsbackend
