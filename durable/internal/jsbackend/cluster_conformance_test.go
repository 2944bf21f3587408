package jsbackend

import (
	"testing"

	"github.com/cschleiden/go-workflows/backend/test"
	"github.com/nats-io/nats.go"
)

// The same suites on a three-server cluster in this process, every stream
// replicated three times: reads that decide a write go to the leader.

func clusterSuite(t *testing.T) *testingSuite {
	srvs := startCluster(t)
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.ClientURL())
	}
	return &testingSuite{nc: connect(t, urls...)}
}

type testingSuite struct{ nc *nats.Conn }

func TestClusterBackendSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster suite")
	}
	s := clusterSuite(t)
	setup, teardown := suite(t, s.nc, 3)
	test.BackendTest(t, setup, teardown)
}

func TestClusterEndToEndSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster suite")
	}
	s := clusterSuite(t)
	setup, teardown := suite(t, s.nc, 3)
	test.EndToEndBackendTest(t, setup, teardown)
}
