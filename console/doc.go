// Package console is cloudrole's web console: one place for a whole fleet
// of role instances, their queues and their jobs, served by every role (cloudrole.Main
// mounts it under /console/ on the health server, or on console.addr), and
// rendered on the server with html/template and one small embedded script —
// no Node toolchain, nothing to build.
//
// Pages: the fleet (every instance on the NATS the role uses, from the
// fleet bucket: state in colour, readiness, uptime, recycles, crash loops
// and frozen instances highlighted, gone ones marked), an instance (its
// tasks with restarts and last panic, startup task results, recent
// recycles), the queues (waiting jobs per level, running jobs, the age of
// the oldest waiting job, dead letters, enqueue and completion rates as
// small charts), a queue's dead letters, paged, with their error,
// attempts and headers, and the jobs (package jobs): every job the fleet's
// running instances define, with its kind, schedule, source, last run and
// runs running and queued; a job's runs, newest first (the newest 100,
// filtered by state); and a run, with its whole record and its output —
// the last 2,000 lines, stdout at INFO and stderr at ERROR, each with its
// time, and a link to all of it as text; the orchestrations (package
// durable): every instance of every hub on the role's NATS, newest first
// (the newest 200), with its runtimeStatus in colour and a filter by it;
// an instance, with its status, input, output, failure, created and
// updated times and its history (type, time and a short summary of each
// event, the newest 500); and the schedules: every queue's recurring
// schedules (name, cron pattern and time zone or interval, next fire,
// priority, key, payload size) and the count of its scheduled jobs not yet
// due. Pages update live through server-sent events; a run's page stops
// updating once the run has ended, an instance's once it has ended.
//
// The hubs are found from the server's streams (DURABLE_<hub>), not from
// the fleet's snapshots: a hub exists, and its instances can be read and
// acted on, whether or not any live instance works it. Hubs are opened as
// clients (they run no goroutine) with durable's NoCreate, so a NATS
// without orchestrations is left as it was.
//
// The console reads jobs as a client (jobs.Client) on the role's NATS. It
// never creates the jobs store: on a NATS where no instance ever had a
// job the pages say there are none. It reads output with Keep, so it
// never hands output over: `jobs receive` still gets every line. A live
// run page reads only the lines stored since its last update.
//
// # Safe actions
//
// Reading is open while the console listens on loopback only. Every action
// — requeue one dead letter or all, purge a queue or its dead letters,
// freeze or unfreeze this instance, run a triggered job, stop a run,
// raise an event on an orchestration, terminate one, purge an ended one,
// remove a recurring schedule —
// needs an operator token (console.token or console.token_file),
// presented once on the login page (the console then keeps a session
// cookie, HttpOnly and SameSite=Strict) or as an
// "Authorization: Bearer" header. Tokens are compared in constant time.
// Cross-site requests are refused (net/http's CrossOriginProtection, which
// checks Sec-Fetch-Site and Origin), so another site cannot make a
// logged-in browser act. Every action is logged with the token's name and
// what it did. Off loopback the console requires a token to read as well;
// config refuses such an address without one.
//
// A run started from the console is triggered "manual". Its arguments are
// typed one per line, as typed (no quoting rules; an argument may hold
// spaces); empty lines are skipped. A singleton or scheduled job with a
// run queued or running is not started: the page says which run is in the
// way (jobs.ErrAlreadyRunning, the jobs API's 409).
//
// An event is raised with a name and its data as JSON (empty: null; a
// string is written in quotes), delivered to the instance's running
// execution as durable.Hub.RaiseEvent does; one on an instance that has
// ended, or an unknown one, is refused saying so. Terminate takes a reason
// (by default one naming the operator). Purge removes an ended instance
// with its ID typed to confirm, as a queue's purge takes the queue's name;
// a running one is refused (terminate it first). Removing a recurring
// schedule stops its fires; jobs it fired stay queued.
package console
