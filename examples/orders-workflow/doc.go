// Command orders-workflow is cloudrole's durable orchestration demo: an
// order orchestration (reserve the stock, wait for an approval when the
// amount asks for one, charge the card, ship; each failure undoes the
// steps before it) and an eternal cleanup orchestration, on go-workflows
// with cloudrole's JetStream backend and the embedded NATS server — no
// setup.
//
// At start it starts five orders: two ship, order-3 waits for an
// approval, order-4's card is declined (its reservation is released) and
// order-5 cannot be shipped (its charge is refunded, its reservation
// released). Raise the approval from another terminal while it runs:
//
//	go run ./examples/orders-workflow                       # run the demo (Ctrl-C stops it)
//	go run ./examples/orders-workflow workflows list        # every instance and its runtimeStatus
//	go run ./examples/orders-workflow workflows raise order-3 approve '"alice"'
//	go run ./examples/orders-workflow workflows status order-3
//	go run ./examples/orders-workflow workflows terminate cleanup "maintenance"
//	curl -s localhost:8081/durable/instances/order-3         # the HTTP API: status, like Durable Functions'
//	open http://localhost:8081/durable/diag/                 # go-workflows' diagnostics UI
//
// Reads of the HTTP API are open to loopback; its actions (start, raise,
// terminate, purge) and the shop's own POST /orders need the console's
// operator token, as the jobs API's do. Start the demo with one to approve over HTTP instead of the CLI:
//
//	CLOUDROLE_CONSOLE_TOKEN=demo-operator-token-1 go run ./examples/orders-workflow
//	curl -si -H 'Authorization: Bearer demo-operator-token-1' -d '"bob"' localhost:8081/durable/instances/order-3/raiseEvent/approve
//	curl -si -H 'Authorization: Bearer demo-operator-token-1' -d '{"id":"order-9","item":"mouse","qty":1,"amount":1900,"card":"4242"}' localhost:8081/orders
//
// Kill it (kill -9) while an order waits and run it again: the orders
// resume where they were, activities that completed do not run again, and
// the cleanup's timer fires as scheduled.
package main
