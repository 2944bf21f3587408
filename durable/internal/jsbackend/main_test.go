package jsbackend

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-workflows' worker keeps the executors of unfinished workflows
		// in its cache when it stops and never closes them, so their
		// coroutines stay parked; the conformance suites build that worker
		// themselves. (package durable closes its own.)
		goleak.IgnoreTopFunction("github.com/cschleiden/go-workflows/internal/sync.(*coState).yield"),
	)
}
