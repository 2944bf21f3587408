package testutil

import "go.uber.org/goleak"

// ServerGoroutines are goleak options for the goroutines an in-process
// nats-server may leave running for a few seconds after it shut down: a
// stream's source (the durable source of a queue's scheduled jobs) whose
// setup was in flight at shutdown waits up to five seconds for the answer
// to its consumer-reset request before it gives up. They belong to the
// server, end by themselves, and are not ours to stop.
var ServerGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"),
}
