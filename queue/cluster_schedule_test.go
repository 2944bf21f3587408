package queue

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// restartableCluster is three JetStream servers in this process whose
// members can be stopped and started again on the same addresses and
// stores.
type restartableCluster struct {
	t    *testing.T
	mu   sync.Mutex
	opts []*server.Options
	srvs []*server.Server
}

func startRestartableCluster(t *testing.T) *restartableCluster {
	t.Helper()
	rc := &restartableCluster{t: t}
	var routes []string
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]))
	}
	for i := range 3 {
		rc.opts = append(rc.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       freePort(t),
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "crq", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		})
	}
	rc.srvs = make([]*server.Server, 3)
	for i := range 3 {
		rc.start(i)
	}
	t.Cleanup(func() {
		for i := range 3 {
			rc.stop(i)
		}
	})
	waitFor(t, "JetStream meta leader", 15*time.Second, func() bool {
		for _, s := range rc.running() {
			if s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return rc
}

func (rc *restartableCluster) start(i int) {
	rc.t.Helper()
	o := *rc.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		rc.t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		rc.t.Fatalf("server n%d not ready", i)
	}
	rc.mu.Lock()
	rc.srvs[i] = s
	rc.mu.Unlock()
}

func (rc *restartableCluster) stop(i int) {
	rc.mu.Lock()
	s := rc.srvs[i]
	rc.srvs[i] = nil
	rc.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

func (rc *restartableCluster) running() []*server.Server {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*server.Server
	for _, s := range rc.srvs {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (rc *restartableCluster) urls() string {
	var u []string
	for _, o := range rc.opts {
		u = append(u, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(u, ",")
}

// index returns the member called name.
func (rc *restartableCluster) index(name string) int {
	for i, o := range rc.opts {
		if o.ServerName == name {
			return i
		}
	}
	rc.t.Fatalf("no server %q", name)
	return -1
}

// A per-second schedule on an R3 queue, through the loss of its schedule
// stream's leader and then of the cluster's quorum. The server keeps and
// fires the schedule; every fire it made is enqueued exactly once (each
// fire time counted by the stream sequences it was stored under), none
// twice. What the outages do, seen here and documented in
// Queue.SetSchedule: fire times while the stream had no leader are not
// fired at all; when a leader is back, the schedule fires once for the
// missed times (at that moment) and then on its fire times again.
func TestClusterScheduleThroughLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	rc := startRestartableCluster(t)
	p, err := NewProvider(Options{NATS: NATS{URL: rc.urls()}})
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
		q, err = c.Queue(ctx, "r3sched", Config{Replicas: 3, AckWait: 2 * time.Second})
		return err == nil
	})
	waitFor(t, "schedule set", 20*time.Second, func() bool {
		return q.SetSchedule(ctx, Schedule{Name: "tick", Cron: "* * * * * *"}, nil) == nil
	})

	// Enqueues are counted by where the server stored them: a fire time
	// stored twice would show two level-stream sequences.
	var mu sync.Mutex
	stored := map[int64]map[uint64]bool{} // fire unix second -> level stream sequences
	ran := map[int64]time.Time{}          // when each fire first ran
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		d, _ := parseAck(j.msg.Reply)
		mu.Lock()
		defer mu.Unlock()
		s := j.Due.Unix()
		if stored[s] == nil {
			stored[s] = map[uint64]bool{}
			ran[s] = time.Now()
		}
		stored[s][d.seq] = true
		return nil
	}, WorkerOptions{Concurrency: 4, PollInterval: 50 * time.Millisecond})
	fires := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(stored)
	}
	waitFor(t, "the first fires", 20*time.Second, func() bool { return fires() >= 4 })

	// 1. The schedule stream's leader goes.
	leader := func() string {
		si, err := c.js.Stream(ctx, schedStream("r3sched"))
		if err != nil {
			return ""
		}
		info, err := si.Info(ctx)
		if err != nil || info.Cluster == nil {
			return ""
		}
		return info.Cluster.Leader
	}
	var old string
	waitFor(t, "the schedule stream's leader", 10*time.Second, func() bool { old = leader(); return old != "" })
	killed := rc.index(old)
	lostAt := time.Now()
	rc.stop(killed)
	before := fires()
	waitFor(t, "fires after the leader loss", 60*time.Second, func() bool { return fires() >= before+4 })
	t.Logf("schedule stream leader %s stopped; new leader %s", old, leader())

	// 2. The cluster loses its quorum: one server of three left.
	var other int
	for i := range 3 {
		if i != killed {
			other = i
			break
		}
	}
	rc.stop(other)
	noQuorumAt := time.Now()
	waitUntil(t, noQuorumAt.Add(4*time.Second)) // four fire times with no quorum
	rc.start(killed)
	rc.start(other)
	backAt := time.Now()
	before = fires()
	waitFor(t, "fires after the quorum came back", 90*time.Second, func() bool { return fires() >= before+4 })

	mu.Lock()
	defer mu.Unlock()
	var secs []int64
	for s, seqs := range stored {
		secs = append(secs, s)
		if len(seqs) != 1 {
			t.Errorf("fire time %v enqueued %d times (sequences %v)", time.Unix(s, 0).UTC(), len(seqs), seqs)
		}
	}
	slices.Sort(secs)
	var missed []string
	for i := 1; i < len(secs); i++ {
		if gap := secs[i] - secs[i-1]; gap > 1 {
			missed = append(missed, fmt.Sprintf("%d fire times before %v (that fire ran %v after the gap's last due time)",
				gap-1, time.Unix(secs[i], 0).UTC().Format("15:04:05"), ran[secs[i]].Sub(time.Unix(secs[i], 0)).Round(time.Millisecond)))
		}
	}
	t.Logf("%d fire times enqueued, each once; leader lost at %s, quorum lost at %s and back at %s; missed: %s",
		len(secs), lostAt.UTC().Format("15:04:05.000"), noQuorumAt.UTC().Format("15:04:05.000"), backAt.UTC().Format("15:04:05.000"), strings.Join(missed, "; "))
	// No fire time may be stored for the outage and again later: a
	// duplicate would have shown above. And the outage's fire times are
	// not replayed one by one: at most one fire (the catch-up) between
	// losing and regaining the quorum.
	n := 0
	for _, s := range secs {
		if at := time.Unix(s, 0); at.After(noQuorumAt.Add(time.Second)) && at.Before(backAt) {
			n++
		}
	}
	if n > 1 {
		t.Errorf("%d fire times fell between losing the quorum and its return; missed fires should collapse into one", n)
	}
}
