package jsbackend

import (
	"testing"

	"github.com/cschleiden/go-workflows/backend/test"
)

// The go-workflows backend conformance suites, unmodified, on one
// embedded server.

func TestBackendSuite(t *testing.T) {
	nc := connect(t, startServer(t).ClientURL())
	setup, teardown := suite(t, nc, 1)
	test.BackendTest(t, setup, teardown)
}

func TestEndToEndSuite(t *testing.T) {
	nc := connect(t, startServer(t).ClientURL())
	setup, teardown := suite(t, nc, 1)
	test.EndToEndBackendTest(t, setup, teardown)
}
