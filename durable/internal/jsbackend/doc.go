// Package jsbackend is a go-workflows backend on NATS JetStream: one
// stream holds every workflow instance, its history, its task queues and
// its timers, on an embedded server or a cluster with the same code.
//
// # Storage
//
// A backend owns one stream, DURABLE_<namespace>, with Limits retention
// and the subjects durable.<namespace>.>. Each workflow instance has a log:
// the messages under durable.<ns>.e.<instance>.> (identifiers escaped
// into tokens, see names). Most carry a snapshot: the instance's whole
// state (execution, state, history length, the events not yet given to a
// workflow task, the activities and timers it awaits, whether a task is
// due and which message it is). So the last snapshot of an instance is its
// current state, and the last snapshot of an execution that execution's.
// A snapshot is written by
//
//   - a start (CreateWorkflowInstance, a child, the next execution of
//     ContinueAsNew), with the start event pending;
//   - an append, which adds events: a signal, a cancellation, an
//     activity's result, a fired timer, an event from another instance;
//   - a commit (CompleteWorkflowTask), which also holds the events the
//     task executed. The history of an execution is the chain of its
//     commits, each naming the previous one.
//
// A message that makes an idle instance queued is its workflow task: its
// subject routes it to the workflow task consumer of the instance's queue.
// A commit that schedules one activity is routed to that activity's queue
// instead and is the activity's task; when a commit schedules several,
// each has a message of its own in the batch.
//
// Timers are message schedules (durable.<ns>.s.…): the server itself
// stores the fired event into the log at the due time, survives restarts
// and needs no timer process of ours; the workflow worker that receives it
// appends it to the snapshot. A cancelled timer's schedule is replaced by
// an empty message (a subject rollup), which never fires.
//
// Task queues are durable pull consumers with subject filters. A
// delivery's lease is go-workflows' lock timeout (the consumer's AckWait,
// renewed by Extend*Task with in-progress acknowledgements).
//
// # Atomicity
//
// Every snapshot is written with a compare-and-set on the whole log: its
// message carries Nats-Expected-Last-Subject-Sequence for the log's
// subject filter, so it is stored only if nothing was written since the
// writer read the state; otherwise the writer reads again and retries.
// One expectation subject for every writer also makes a replicated stream
// serialise them.
//
// A workflow task's completion is one write: the history, the new snapshot
// and every effect (activity tasks, timer schedules and cancellations,
// events added to other instances, the start of a child or of the next
// execution, each a compare-and-set on the other instance's log) are one
// message or, when there is more than one, one JetStream atomic batch (all
// or nothing; one stream holds them all, so one batch can). A crash before
// the write leaves the old state, and the task is delivered again after
// its lease; after it, the new state, and the delivery, if it comes again,
// is no longer the current task and is dropped. The usual step of a
// sequential workflow (a task that schedules one activity) is a single
// message, and so is every append.
//
// Replays are idempotent. A start or a commit whose answer was lost is
// recognised by its identity when retried. A result is added only while
// the snapshot lists its activity as awaited, and a fired timer only while
// its timer is pending, so neither is ever added twice; a redelivered
// activity task whose result is in already is acknowledged without
// running: a completed activity never runs again.
//
// # Reads
//
// Every read is a lookup of the last message of a subject filter or of one
// stream sequence, which nats-server answers from its per-subject index;
// a forward scan from an arbitrary position would walk every message of
// every instance stored since. A single-replica stream is read with direct
// gets. A replicated stream's followers also answer direct gets and may be
// a moment behind, so reads that decide a write go to the stream leader;
// listings may lag. A read that decides not to write (a result in
// already, a task no longer current) must also reach the message that
// asked for the write, the task in hand, or it is made again.
//
// A request the server never answers (one sent while the stream's
// leadership moves, or to a server that is shutting down) is sent again
// after Options.AnswerTimeout rather than waiting out its deadline: reads
// as they are, writes too, since each is a compare-and-set and the repeat
// of one stored after all fails as a conflict.
//
// # Costs
//
// Listing executions (diagnostics, stats, RemoveWorkflowInstances) looks
// at every snapshot subject of the stream and reads each execution's
// snapshot: it is meant for operations, not for the task path. An
// execution's messages stay until it is removed (RemoveWorkflowInstance,
// RemoveWorkflowInstances, or WithRemoveContinuedAsNewInstances for
// executions ended by ContinueAsNew); each holds a few subjects of the
// stream's index. Many events for one instance at once (a fan-in) contend
// on its log and are added one after another.
package jsbackend
