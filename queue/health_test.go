package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/internal/testutil"
)

// clusterNode is an in-process cluster server that can be stopped and
// started again on the same addresses and store.
type clusterNode struct {
	t    *testing.T
	opts server.Options
	mu   sync.Mutex
	srv  *server.Server
}

// startNodes runs a 3-server JetStream cluster on loopback and waits for
// its meta leader.
func startNodes(t *testing.T) []*clusterNode {
	t.Helper()
	routes := make([]string, 3)
	clusterPorts := make([]int, 3)
	for i := range clusterPorts {
		clusterPorts[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", clusterPorts[i])
	}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		nodes[i] = &clusterNode{t: t, opts: server.Options{
			ServerName: fmt.Sprintf("h%d", i),
			Host:       "127.0.0.1",
			Port:       freePort(t),
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "health", Host: "127.0.0.1", Port: clusterPorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}}
		nodes[i].start()
		t.Cleanup(nodes[i].stop)
	}
	waitFor(t, "JetStream meta leader", 20*time.Second, func() bool {
		for _, n := range nodes {
			if s := n.server(); s != nil && s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return nodes
}

func (n *clusterNode) start() {
	n.t.Helper()
	o := n.opts
	s, err := server.NewServer(&o)
	if err != nil {
		n.t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatalf("server %s not ready", o.ServerName)
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
}

func (n *clusterNode) server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

func (n *clusterNode) stop() {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

func (n *clusterNode) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.opts.Port) }

// With 2 of 3 servers down, an R3 queue's streams have no leader: Check
// (the readiness probe) and Status say so, naming the stream, without
// blocking; an enqueue says what happened and that a retry with its ID is
// safe (also when the caller set no deadline: nats.go's 5 s default); an
// idle worker logs its refused pulls once per level, not every poll. When
// the servers come back, all of it clears by itself.
func TestCheckReportsNoQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	nodes := startNodes(t)
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.url()
	}
	provLog, workLog := &testutil.Buffer{}, &testutil.Buffer{}
	p, err := NewProvider(Options{NATS: NATS{URL: strings.Join(urls, ",")}, Logger: slog.New(slog.NewTextHandler(provLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	c, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var q *Queue
	waitFor(t, "R3 queue created", 20*time.Second, func() bool {
		q, err = c.Queue(ctx, "nq", Config{Replicas: 3})
		return err == nil
	})
	status := func() ProviderStatus { return p.Status() }
	waitFor(t, "a first look at the streams", 10*time.Second, func() bool {
		st := status()
		return st.Streams != nil && !st.Streams.CheckedAt.IsZero()
	})
	if err := p.Check(); err != nil {
		t.Fatalf("Check with the whole cluster up: %v", err)
	}
	if st := status(); !st.Streams.OK || st.Streams.Error != "" {
		t.Fatalf("status with the whole cluster up: %+v", st.Streams)
	}
	done := make(chan string, 1)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		select {
		case done <- j.ID:
		default:
		}
		return nil
	}, WorkerOptions{Logger: slog.New(slog.NewTextHandler(workLog, nil))})

	nodes[1].stop()
	nodes[2].stop()
	down := time.Now()

	// An enqueue with no deadline waits for nats.go's default.
	noDeadline := make(chan error, 1)
	go func() {
		_, err := q.Enqueue(context.Background(), []byte("x"), WithID("no-deadline"))
		noDeadline <- err
	}()

	var checkErr error
	slowest := time.Duration(0)
	// A leader that lost its quorum keeps answering until it steps down:
	// nats-server looks every 10 s for a quorum lost 10 s ago
	// (lostQuorumInterval, lostQuorumCheck in server/raft.go), so 10-20 s
	// after the loss, later on a loaded machine.
	waitFor(t, "Check to report the lost quorum", 30*time.Second, func() bool {
		start := time.Now()
		checkErr = p.Check()
		slowest = max(slowest, time.Since(start))
		return errors.Is(checkErr, ErrNoLeader)
	})
	reported := time.Since(down)
	msg := checkErr.Error()
	if !strings.Contains(msg, `queue "nq" level `) || !strings.Contains(msg, "stream CRQ_nq_p") ||
		!strings.Contains(msg, "leader") || !strings.Contains(msg, "quorum") {
		t.Fatalf("Check error %q should name the queue, the level, the stream and the missing leader or quorum", msg)
	}
	if slowest > 100*time.Millisecond {
		t.Fatalf("Check took %v: it must answer from the cache, not the network", slowest)
	}
	if st := status(); st.State != "connected" || st.Streams.OK || st.Streams.Error != msg {
		t.Fatalf("status during the outage: state %q, streams %+v; want connected and not OK with %q", st.State, st.Streams, msg)
	}

	// An enqueue during the outage says what happened and whether a retry
	// is safe. Which error it gets depends on timing: while the old leader
	// still holds on, the publish goes unanswered (a timeout); once it has
	// stepped down, no server listens on the subject (no responders).
	explained := func(err error) bool {
		switch {
		case errors.Is(err, ErrNoLeader):
			return errors.Is(err, jetstream.ErrNoStreamResponse) && strings.Contains(err.Error(), "no leader") && strings.Contains(err.Error(), "nothing was stored, so a retry is safe")
		case errors.Is(err, ErrNotConfirmed):
			return errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), "no stream leader answered") && strings.Contains(err.Error(), "WithID is safe")
		}
		return false
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = q.Enqueue(dctx, []byte("x"), WithID("with-deadline"))
	cancel()
	if !explained(err) {
		t.Fatalf("enqueue during the outage: %v; want ErrNoLeader (nothing stored) or ErrNotConfirmed (no leader answered, a retry with WithID is safe)", err)
	}
	select {
	case err = <-noDeadline:
	case <-time.After(30 * time.Second):
		t.Fatal("an enqueue without a deadline never returned")
	}
	if !explained(err) || errors.Is(err, ErrNotConfirmed) && !strings.Contains(err.Error(), "5s default") {
		t.Fatalf("enqueue without a deadline during the outage: %v; want it explained, a timeout naming nats.go's 5s default", err)
	}
	t.Logf("enqueue during the outage: %v", err)
	outage := time.Since(down)

	nodes[1].start()
	nodes[2].start()
	up := time.Now()
	waitFor(t, "Check to clear after the servers came back", 60*time.Second, func() bool { return p.Check() == nil })
	cleared := time.Since(up)
	if st := status(); !st.Streams.OK || st.Streams.Error != "" {
		t.Fatalf("status after the recovery: %+v", st.Streams)
	}
	// The worker works again (a retry with the same ID is deduplicated).
	waitFor(t, "an enqueue after the recovery", 30*time.Second, func() bool {
		_, err := q.Enqueue(ctx, []byte("x"), WithID("after"))
		return err == nil
	})
	waitFor(t, "a job processed after the recovery", 30*time.Second, func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})

	logs := workLog.String()
	refused := strings.Count(logs, "pull request refused")
	// One line per level when refusals begin, and a reminder per 30 s.
	if limit := q.cfg.Levels * (1 + int(outage/repeatEvery)); refused > limit {
		t.Fatalf("the worker logged %d refused pulls during a %v outage; want at most %d:\n%s", refused, outage.Round(time.Millisecond), limit, logs)
	}
	// Each level that logged refusals logs its recovery once, when one of
	// its pulls is next answered (the idle worker looks at every level).
	waitFor(t, "a recovery line per level with refused pulls", 10*time.Second, func() bool {
		return strings.Count(workLog.String(), "pull requests answered again") == refused
	})
	if !strings.Contains(provLog.String(), "no leader") || !strings.Contains(provLog.String(), "every stream has a leader again") {
		t.Fatalf("the provider should log the loss and the recovery once each:\n%s", provLog)
	}
	t.Logf("no leader reported %v after 2 of 3 servers stopped (slowest Check %v): %s; cleared %v after they restarted; %d refused-pull lines in a %v outage",
		reported.Round(time.Millisecond), slowest, msg, cleared.Round(time.Millisecond), refused, outage.Round(time.Millisecond))
}
