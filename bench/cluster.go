package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/queue"
)

// cluster is three JetStream servers in this process, routed on loopback,
// each with its own store in the bench's temp dir.
type cluster struct {
	srvs []*server.Server
	dir  string
}

func (e *env) startCluster(syncAlways bool) (*cluster, error) {
	dir, err := os.MkdirTemp(e.dir, "cluster")
	if err != nil {
		return nil, err
	}
	cl := &cluster{dir: dir}
	ports := make([]int, 3)
	var routes []string
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]))
	}
	for i := range ports {
		o := &server.Options{ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: filepath.Join(dir, fmt.Sprint(i)), NoLog: true, NoSigs: true, SyncAlways: syncAlways, MaxPayload: 8 << 20,
			Cluster: server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ","))}
		s, err := server.NewServer(o)
		if err != nil {
			cl.stop()
			return nil, err
		}
		s.Start()
		cl.srvs = append(cl.srvs, s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range cl.srvs {
		if !s.ReadyForConnections(10 * time.Second) {
			cl.stop()
			return nil, errors.New("cluster server did not start")
		}
	}
	for !cl.hasLeader() {
		if time.Now().After(deadline) {
			cl.stop()
			return nil, errors.New("the cluster elected no JetStream meta leader in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cl, nil
}

func (cl *cluster) hasLeader() bool {
	for _, s := range cl.srvs {
		if s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

func (cl *cluster) urls() string {
	var u []string
	for _, s := range cl.srvs {
		u = append(u, s.ClientURL())
	}
	return strings.Join(u, ",")
}

func (cl *cluster) stop() {
	for _, s := range cl.srvs {
		s.Shutdown()
	}
	for _, s := range cl.srvs {
		s.WaitForShutdown()
	}
	os.RemoveAll(cl.dir)
}

// clean deletes every stream, so the next run starts on an empty cluster.
func (cl *cluster) clean() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(cl.urls())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	names := js.StreamNames(ctx)
	var all []string
	for n := range names.Name() {
		all = append(all, n)
	}
	if err := names.Err(); err != nil {
		return err
	}
	for _, n := range all {
		if err := js.DeleteStream(ctx, n); err != nil {
			return fmt.Errorf("delete stream %s: %w", n, err)
		}
	}
	return nil
}

// crClusterEndToEnd runs crEndToEnd on a queue with R3 streams.
func crClusterEndToEnd(cl *cluster, n, conc int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: cl.urls()}})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	c, err := p.Client(ctx)
	if err != nil {
		return 0, err
	}
	q, err := c.Queue(ctx, "bench", queue.Config{Replicas: 3, AckWait: time.Minute})
	if err != nil {
		return 0, err
	}
	return crEndToEnd(q, cl.urls(), n, conc, nil)
}
