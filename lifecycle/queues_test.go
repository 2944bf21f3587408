package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/fleet"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// queueRole connects in OnStart and enqueues and works one job per
// instance, recording the client it got.
type queueRole struct {
	testRole
	mu      sync.Mutex
	clients []*queue.Client
	worked  chan int
}

func (r *queueRole) OnStart(ctx context.Context, env role.Env) error {
	c, err := queue.Connect(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.clients = append(r.clients, c)
	r.mu.Unlock()
	return nil
}

func (r *queueRole) Run(ctx context.Context, env role.Env) error {
	c, err := queue.Connect(ctx)
	if err != nil {
		return err
	}
	q, err := c.Queue(ctx, "wiring", queue.Config{})
	if err != nil {
		return err
	}
	inc := env.Identity().Incarnation
	if _, err := q.Enqueue(ctx, []byte{byte(inc)}); err != nil {
		return err
	}
	return q.Work(ctx, func(_ context.Context, j *queue.Job) error {
		r.worked <- int(j.Payload[0])
		if inc == 1 {
			env.RequestRecycle("second instance, same connection")
		}
		return nil
	}, queue.WorkerOptions{})
}

// With no nats URL the host gives roles an embedded server the first time
// they connect; an in-process recycle keeps the same connection (and
// server); /status shows it; the host closes it after the last OnStop.
func TestEmbeddedQueueLivesForTheProcess(t *testing.T) {
	cfg := testConfig(t)
	cfg.NATS.Sync = "1m" // no fsync needed here
	r := &queueRole{worked: make(chan int, 4)}
	hs := startHost(t, r, cfg, nil)

	for want := 1; want <= 2; want++ {
		select {
		case got := <-r.worked:
			if got != want {
				t.Fatalf("instance %d worked the job of instance %d", want, got)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("instance %d never worked its job", want)
		}
	}
	hs.rec.waitN(t, "second instance running", 1, state(StateRunning, 2))
	r.mu.Lock()
	first, second := r.clients[0], r.clients[1]
	r.mu.Unlock()
	if first != second {
		t.Fatal("the recycle made a new queue connection; it must live for the process")
	}
	var nats struct {
		Mode, State string
	}
	raw, _ := json.Marshal(hs.status().NATS)
	if err := json.Unmarshal(raw, &nats); err != nil || nats.Mode != "embedded" || nats.State != "connected" {
		t.Fatalf("status nats = %s; want embedded and connected", raw)
	}

	hs.h.Stop(nil)
	if err := hs.wait(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if !first.Conn().IsClosed() {
		t.Fatal("the queue connection is still open after the host stopped")
	}
}

// A role that never connects starts no server: status says "unused".
func TestNoQueueNoServer(t *testing.T) {
	hs := startHost(t, &testRole{}, testConfig(t), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	raw, _ := json.Marshal(hs.status().NATS)
	var nats struct{ State string }
	if err := json.Unmarshal(raw, &nats); err != nil || nats.State != "unused" {
		t.Fatalf("status nats = %s; want unused", raw)
	}
}

// Readiness follows the queue connection: with the external server down
// the instance is not ready, with it back it is ready again, and the role
// never recycled for it.
func TestReadinessFollowsQueueConnection(t *testing.T) {
	dir := t.TempDir()
	sopts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
	srv := startNATS(t, sopts)
	url := srv.ClientURL()
	sopts.Port = srv.Addr().(*net.TCPAddr).Port

	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r := &testRole{onStart: func(ctx context.Context, _ role.Env) error {
		_, err := queue.Connect(ctx)
		return err
	}}
	hs := startHost(t, r, testConfig(t), func(o *Options) { o.Queues = p })
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.expect("/readyz", 200, "ok")
	// The outage must not cut the creation of the fleet's buckets: a
	// server shut down mid-creation leaks the new stream's goroutines.
	waitFleetPublished(t, url)

	srv.Shutdown()
	srv.WaitForShutdown()
	waitReady(t, hs, 503, "queue: NATS connection")

	startNATS(t, sopts) // same port and store: the client reconnects
	waitReady(t, hs, 200, "ok")
	if n := hs.rec.count(recycled); n != 0 {
		t.Fatalf("%d recycles during a NATS outage; readiness should carry it", n)
	}
	// Stop the host before the test's server goes: a server shut down
	// while a client writes to it (the fleet snapshot) leaks goroutines.
	hs.h.Stop(nil)
	hs.wait()
}

// waitFleetPublished waits until the fleet's status bucket on the server
// at url holds an entry: both fleet buckets exist.
func waitFleetPublished(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	published := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		kv, err := js.KeyValue(ctx, fleet.StatusBucket)
		if err != nil {
			return false
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			return false
		}
		defer keys.Stop()
		for range keys.Keys() {
			return true
		}
		return false
	}
	eventually(t, published, func() string { return "the fleet snapshot published" })
}

func startNATS(t *testing.T, o *server.Options) *server.Server {
	t.Helper()
	cp := *o
	srv, err := server.NewServer(&cp)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(waitTimeout) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// waitReady polls /readyz until it answers code with a body containing has.
func waitReady(t *testing.T, hs *harness, code int, has string) {
	t.Helper()
	var got int
	var body string
	eventually(t, func() bool {
		got, body = hs.get("/readyz")
		return got == code && strings.Contains(body, has)
	}, func() string { return fmt.Sprintf("/readyz answering %d %q; last %d %q", code, has, got, body) })
}
