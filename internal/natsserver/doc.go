// Command natsserver runs one nats-server with JetStream, configured from
// flags, for the fault suite (package faults): a real server process that a
// test can SIGKILL. An in-process server can only be shut down gracefully,
// and a graceful shutdown hands the server's stream leaderships over
// before it leaves, which hides the Raft election a crash causes.
//
// Flags:
//
//	-name NAME           the server's name (required)
//	-addr HOST:PORT      the client address (required)
//	-store DIR           the JetStream store directory (required)
//	-cluster HOST:PORT   the route address; with -routes, joins a cluster
//	-cluster-name NAME   the cluster's name (default "faults")
//	-routes URLS         comma-separated nats-route:// URLs of the cluster's servers
//	-sync POLICY         "always" (fsync every write) or an interval (default "2m", the server's own)
//	-log                 log to stderr (off by default)
//
// Once the server accepts clients it prints "natsserver ready <client URL>"
// on stdout. SIGTERM and SIGINT shut it down gracefully (exit 0); bad flags
// exit 2, a server that cannot start exits 1.
package main
