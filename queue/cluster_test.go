package queue

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startCluster runs three JetStream servers in this process, routed on
// loopback, each with its own store dir.
func startCluster(t *testing.T) []*server.Server {
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
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "crq", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(o)
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
	waitFor(t, "JetStream meta leader", 15*time.Second, func() bool {
		for _, s := range srvs {
			if s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return srvs
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestClusterR3LeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	srvs := startCluster(t)
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.ClientURL())
	}
	p, err := NewProvider(Options{NATS: NATS{URL: strings.Join(urls, ",")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() }) // after the worker stops (cleanups run last-in first-out)
	ctx := context.Background()
	c, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var q *Queue
	waitFor(t, "R3 queue created", 15*time.Second, func() bool {
		q, err = c.Queue(ctx, "r3", Config{Replicas: 3, AckWait: time.Second})
		return err == nil
	})
	const n = 200
	want := map[string]bool{}
	enqueue := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("job-%d", i)
			waitFor(t, "enqueue "+id, 10*time.Second, func() bool {
				_, err := q.Enqueue(ctx, []byte(id), WithID(id), WithPriority(Priority(i%3)))
				return err == nil
			})
			want[id] = true
		}
	}
	enqueue(0, n/2)

	var mu sync.Mutex
	seen := map[string]int{}
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		mu.Lock()
		seen[j.ID]++
		mu.Unlock()
		return nil
	}, WorkerOptions{Concurrency: 4, PollInterval: 50 * time.Millisecond})

	// Shut the leader of the Normal level's stream down mid-stream.
	info, err := c.js.Stream(ctx, levelStream("r3", int(Normal)))
	if err != nil {
		t.Fatal(err)
	}
	si, err := info.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := si.Cluster.Leader
	for _, s := range srvs {
		if s.Name() == leader {
			s.Shutdown()
		}
	}
	enqueue(n/2, n)
	waitFor(t, "all jobs processed", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range want {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	})
}
