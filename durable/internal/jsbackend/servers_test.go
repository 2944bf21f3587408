package jsbackend

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/test"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

var _ test.TestBackend = (*Backend)(nil)

// startServer runs one JetStream server in this process for the test. Its
// store syncs once a minute: the store is thrown away.
func startServer(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		SyncInterval: time.Minute, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return s
}

// startCluster runs three JetStream servers in this process, routed on
// loopback, each with its own store.
func startCluster(t testing.TB) []*server.Server {
	t.Helper()
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = freePort(t)
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	srvs := make([]*server.Server, 3)
	for i := range srvs {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: t.TempDir(), SyncInterval: time.Minute, NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "durable", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		srvs[i] = s
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range srvs {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("cluster server not ready")
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, s := range srvs {
			if s.JetStreamIsLeader() {
				return srvs
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no JetStream meta leader")
		}
		waitTick()
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitTick paces a condition wait.
func waitTick() { <-time.After(20 * time.Millisecond) }

func connect(t testing.TB, urls ...string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

var namespaces atomic.Int64

// suite returns the setup and teardown the go-workflows suites call for
// every subtest: a backend in a namespace (a stream) of its own.
func suite(t *testing.T, nc *nats.Conn, replicas int) (func(...backend.BackendOption) test.TestBackend, func(test.TestBackend)) {
	setup := func(opts ...backend.BackendOption) test.TestBackend {
		ns := fmt.Sprintf("t%d", namespaces.Add(1))
		var b *Backend
		var err error
		// A new stream on a cluster waits for its placement.
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			b, err = New(ctx, nc, Options{Namespace: ns, Replicas: replicas, MaxWait: 250 * time.Millisecond}, opts...)
			cancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			waitTick()
		}
		if err != nil {
			t.Fatalf("backend: %v", err)
		}
		if got := b.st.direct; got != (replicas == 1) {
			t.Fatalf("%d replicas: reads by direct get = %v", replicas, got)
		}
		return b
	}
	teardown := func(tb test.TestBackend) {
		b := tb.(*Backend)
		_ = b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.js.DeleteStream(ctx, b.n.stream)
	}
	return setup, teardown
}
