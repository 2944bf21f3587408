// Command hello is the smallest useful cloudrole role. It shows the
// lifecycle: a startup task runs first, OnStart reads a setting, Run works
// on a ticker and marks itself busy now and then (watch /readyz turn 503),
// and OnStop cleans up. Edit hello.yaml while it runs: a changed Greeting is
// applied live, and Freeze: true takes effect at the next start.
//
//	go run ./examples/hello            # from the repository root
//	curl localhost:8080/readyz; curl localhost:8080/status
package main
