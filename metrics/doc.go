// Package metrics exports a role host's figures to Prometheus, at
// /metrics on the host's server (cloudrole.Main mounts it), with
// prometheus/client_golang and Prometheus' naming conventions: a
// cloudrole_ prefix, _total counters, _seconds in base units, and labels
// of bounded cardinality only — queue names, levels, task and group
// names, states and kinds of recycle, job, hub and orchestrator names,
// never a job, run or instance ID or an error text.
//
// Two sources feed it. The host's status snapshot (lifecycle.Status) is
// read at each scrape: state, readiness, recycles so far, task restarts
// and panics, queue depth per level, the NATS connection, job runs
// started, completed, failed and stopped by job name (the runner's
// counts, jobs.JobStatus), and orchestrations by hub and orchestrator
// name (durable.OrchestratorFigures: executions started, completed,
// failed and continued as new where their tasks ran, instances terminated
// through a hub the instance works) with activity executions and failures
// by hub. A termination asked for elsewhere (the console's hubs, which
// are clients, or the workflows verb's) is not counted here: the
// instance's history and status record it. These are counts since the process started: Prometheus' rate()
// handles their resets as it does any counter's. Events feed the
// rest as they happen: the host's (lifecycle.Options.Events: recycles by
// kind) and the queue workers' (queue.Provider.Observe: jobs started,
// succeeded, failed and dead-lettered, handler durations, and how long
// each job waited between being stored and being started).
package metrics
