// Package console is cloudrole's web console: one page for a whole fleet
// of role instances and their queues, served by every role (cloudrole.Main
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
// small charts) and a queue's dead letters, paged, with their error,
// attempts and headers. Pages update live through server-sent events.
//
// # Safe actions
//
// Reading is open while the console listens on loopback only. Every action
// — requeue one dead letter or all, purge a queue or its dead letters,
// freeze or unfreeze this instance — needs an operator token (console.token
// or console.token_file), presented once on the login page (the console
// then keeps a session cookie, HttpOnly and SameSite=Strict) or as an
// "Authorization: Bearer" header. Tokens are compared in constant time.
// Cross-site requests are refused (net/http's CrossOriginProtection, which
// checks Sec-Fetch-Site and Origin), so another site cannot make a
// logged-in browser act. Every action is logged with the token's name and
// what it did. Off loopback the console requires a token to read as well;
// config refuses such an address without one.
package console
