// Package durable runs durable orchestrations, Durable Functions' way, on
// cloudrole's NATS JetStream: an orchestrator calls activities in order or
// in parallel, waits on durable timers and external events, starts
// sub-orchestrations, and continues as new; its progress is checkpointed
// after every step, so after a crash it resumes where it was and completed
// activities do not run again.
//
// The engine is go-workflows (github.com/cschleiden/go-workflows):
// orchestrators are its workflows, written with its workflow package
// (workflow.ExecuteActivity with workflow.ActivityOptions and
// workflow.RetryOptions: first interval, backoff coefficient, max
// interval, max attempts, timeout; workflow.ScheduleTimer;
// workflow.NewSignalChannel; workflow.CreateSubWorkflowInstance;
// workflow.ContinueAsNew). An activity's error reaches the orchestrator as
// the error of its future (a *workflow.Error), after the retries. What
// package durable adds is a go-workflows backend of its own on JetStream
// (an embedded server or a cluster, with the same code), binding to the
// role's lifecycle, Durable Functions' client surface, and an HTTP API.
//
// # Contract
//
// A Hub is one stream of orchestrations (DURABLE_<hub>). Open it in
// OnStart (it uses the role's NATS connection), register orchestrators
// and activities, and call Work from Run: the workers start with the role,
// take at most MaxOrchestrations and MaxActivities tasks at a time, and
// when Run's context ends they stop taking tasks and drain within
// DrainTimeout. Every process that registers the same functions and works
// the same queues shares the work; one that only calls Start, Status and
// the rest needs no registration and no Work.
//
//   - Start takes the caller's instance ID; a second start of an ID that
//     is running fails with ErrAlreadyRunning, atomically (one
//     compare-and-set: of many concurrent starters exactly one wins).
//   - Status reports Durable Functions' runtimeStatus names (Pending,
//     Running, Completed, ContinuedAsNew, Failed, Terminated), input,
//     output, the failure, created and last-updated times.
//   - RaiseEvent, Terminate (with a reason), Wait, Purge and List do what
//     Durable Functions' client does; History reads an execution's events
//     (type, time, a short summary) for an operator, and Hubs lists the
//     hubs stored on a server. Open with NoCreate reads a hub without
//     creating it (ErrNoHub when there is none), as the console does.
//   - HubStatus counts executions by orchestrator name (started,
//     completed, failed, continued as new where their tasks ran;
//     terminated where Terminate was called), the figures package metrics
//     exports.
//   - Completing an orchestrator task is all or nothing: its history, its
//     new state, the activities and timers it schedules and the events it
//     sends are one write (see internal/jsbackend). A crash leaves the old
//     state or the new one; a redelivered task that already completed is
//     dropped, and an activity whose result is stored never runs again.
//   - Timers are kept by the NATS server (message schedules): they fire
//     after any restart of every process, once.
//   - An eternal orchestration (run, wait on a timer, ContinueAsNew, under
//     a fixed instance ID, started by every instance at role start with
//     ErrAlreadyRunning ignored) runs once across the fleet, never
//     overlaps itself, and keeps a bounded history: by default an
//     execution's history is removed when it continues as new.
//
// # HTTP and the command line
//
// Routes serves a management API shaped like Durable Functions' (a start
// answers 202 with a Location and the status, raise-event, terminate and
// purge URLs, as CreateCheckStatusResponse does), a listing by
// runtimeStatus, and go-workflows' diagnostics UI. Served by the host
// (role.Router, lifecycle.Options.Routes), its actions need the console's
// operator token (Authorization: Bearer, console.token or
// console.token_file) from any address, and are refused when none is
// configured, as the jobs API's are; its reads are open to loopback
// callers and to a token. Outside a host, actions are served to loopback
// callers only; HTTPOptions.Authorize and AuthorizeRead replace either
// rule. Every role binary also has the workflows verb (start, status,
// raise, terminate, purge, list), which talks to the running role over
// its NATS.
//
// Orchestrators must be deterministic (no time.Now, randomness, I/O or
// goroutines of their own: use workflow.Now, workflow.SideEffect,
// activities and workflow.Go). go-workflows' analyzer
// (github.com/cschleiden/go-workflows/analyzer) checks for the usual
// mistakes; cloudrole's CI runs it on the examples. A non-deterministic
// replay fails the instance with a message saying so.
//
// Not supported: Durable Functions' suspend and resume (go-workflows has
// no suspension) and entities.
package durable
