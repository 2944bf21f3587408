// Command orders is cloudrole's main demo: a worker role that takes orders
// from a durable priority queue on an embedded NATS JetStream server — no
// setup, nothing to install.
//
// At start it enqueues a few thousand orders of mixed priority, a few of
// them poison. A worker handles eight at a time, always the most urgent
// first: watch the high-priority orders finish before the low ones. Some
// orders fail for a while and are retried with backoff; poison orders go
// to the dead-letter queue with their error. Progress (processed per
// level, rate, retries, dead letters) is logged every two seconds and is
// in /status; a summary is printed when all are done, and the role keeps
// serving its probes until interrupted.
//
//	go run ./examples/orders                   # run the demo (Ctrl-C stops it gracefully)
//	go run ./examples/orders -exit-when-done   # stop after the summary
//	CLOUDROLE_NATS_URL=nats://127.0.0.1:4222 go run ./examples/orders   # use an external server
//	curl -s localhost:8080/status              # tasks, worker figures, NATS connection
//	curl -s -d 'rush order' 'localhost:8080/orders?priority=high'   # enqueue one (the role's own route)
//	go run ./examples/orders dead-letters orders    # list dead letters (while the demo runs)
//	go run ./examples/orders requeue orders SEQ|ID  # put one back into the queue
//	go run ./examples/orders rush 'two pizzas'      # the demo's own verb: a high-priority order
//	open http://localhost:8080/console/             # the web console
//
// Beside the orders, a reminders queue shows work the NATS server itself
// schedules. Every instance declares a recurring "sales report" the server
// fires every SalesReportSeconds (30 by default; no leader among the
// instances, no process needed at fire time), and the CLI enqueues
// reminders to be sent later and cancels them:
//
//	go run ./examples/orders remind pay-invoice 2m pay the invoice   # due in two minutes
//	go run ./examples/orders job pay-invoice                         # scheduled, due 10:42:07
//	go run ./examples/orders cancel pay-invoice                      # it never runs
//	go run ./examples/orders remind slow-1 1s slow export            # runs 30s, reports progress
//	go run ./examples/orders cancel slow-1                           # its handler's ctx is cancelled
//	go run ./examples/orders schedules                               # the sales report, every 30s
package main
