package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// jobsClient is a jobs client on the host's queue provider.
func (hs *harness) jobsClient() *jobs.Client {
	hs.t.Helper()
	qc, err := hs.h.queues.Client(context.Background())
	if err != nil {
		hs.t.Fatal(err)
	}
	c, err := jobs.NewClient(context.Background(), qc, jobs.ClientOptions{})
	if err != nil {
		hs.t.Fatal(err)
	}
	return c
}

// startJob starts a run, waiting for the instance to publish the job.
func startJob(t *testing.T, c *jobs.Client, job string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		id, err := c.Start(context.Background(), job, jobs.StartOptions{Args: args})
		if err == nil {
			return id
		}
		if !errors.Is(err, jobs.ErrUnknownJob) || time.Now().After(deadline) {
			t.Fatalf("Start(%s): %v", job, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitRun(t *testing.T, c *jobs.Client, id string) jobs.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	r, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	return r
}

// The host runs the jobs its config declares, though the role's code never
// mentions jobs; /status shows them as a typed section.
func TestHostRunsConfigJobs(t *testing.T) {
	cfg := writeConfig(t, tempPath(t, "role.yaml"), `
health: {addr: "127.0.0.1:0"}
nats: {sync: 1m}
jobs:
  heartbeat: 100ms
  fail_after: 1s
  programs:
    - name: hello
      command: [sh, -c, 'echo "hello $1 from $CLOUDROLE_ROLE"', hello]
`)
	tuneTestConfig(t, cfg)
	hs := startHost(t, &testRole{}, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	c := hs.jobsClient()
	id := startJob(t, c, "hello", "world")
	if r := waitRun(t, c, id); r.State != jobs.Completed || r.Instance != cfg.Role.InstanceID {
		t.Fatalf("run = %+v", r)
	}
	lines, _ := c.Receive(context.Background(), id, jobs.ReceiveOptions{Keep: true})
	if len(lines) != 1 || lines[0].Text != "hello world from testrole" {
		t.Fatalf("output = %+v", lines)
	}
	st := hs.status()
	if st.Jobs == nil || len(st.Jobs.Jobs) != 1 || st.Jobs.Jobs[0].Name != "hello" || st.Jobs.Jobs[0].Completed != 1 || st.Jobs.Jobs[0].Source != "config" {
		t.Fatalf("status jobs = %+v", st.Jobs)
	}
	if _, ok := st.Components["jobs"]; ok {
		t.Fatal("jobs also listed in components")
	}
}

// Role code adds Go jobs through the context of its hooks; a run under way
// when the instance stops ends Stopped, before OnStop runs.
func TestGoJobFromOnStartStoppedBeforeOnStop(t *testing.T) {
	cfg := testConfig(t)
	cfg.NATS.Sync = "1m"
	cfg.Jobs.Heartbeat, cfg.Jobs.FailAfter = 100*time.Millisecond, time.Second
	var running atomic.Bool
	var runEndedBeforeOnStop atomic.Bool
	r := &testRole{
		onStart: func(ctx context.Context, env role.Env) error {
			return jobs.Add(ctx, jobs.Job{Name: "long", Func: func(ctx context.Context, inv *jobs.Invocation) error {
				running.Store(true)
				inv.Printf("started")
				<-ctx.Done()
				running.Store(false)
				return nil
			}})
		},
		onStop: func(ctx context.Context, env role.Env) error {
			runEndedBeforeOnStop.Store(!running.Load())
			return nil
		},
	}
	// A provider of the test's, so the records can be read after the host.
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	hs := startHost(t, r, cfg, func(o *Options) { o.Queues = p })
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	c := hs.jobsClient()
	id := startJob(t, c, "long")
	eventually(t, running.Load, func() string { return "the Go job running" })
	hs.h.Stop(nil)
	if err := hs.wait(); err != nil {
		t.Fatal(err)
	}
	if !runEndedBeforeOnStop.Load() {
		t.Fatal("OnStop ran while the job still ran")
	}
	if run, err := c.Get(context.Background(), id); err != nil || run.State != jobs.Stopped || run.Error != "stopped: the instance is stopping" {
		t.Fatalf("run after the stop = %+v, %v", run, err)
	}
}

// The jobs API is served on the health server: a start is 202 with the
// run's URL; the run reads back. Before the role connected to its
// embedded NATS (no jobs), the API says so with 503 and starts no server.
// Control actions need the operator token: none configured is 403, a
// missing or wrong one 401, even from loopback.
func TestJobsAPIOnTheHealthServer(t *testing.T) {
	hs := startHost(t, &testRole{}, testConfig(t), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	if code, body := hs.get("/jobs"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not connected to NATS") {
		t.Fatalf("GET /jobs without jobs = %d %s", code, body)
	}
	if st := hs.status(); st.NATS.State != "unused" {
		t.Fatalf("the jobs API started NATS: %+v", st.NATS)
	}
	if code, body := hs.post("/jobs/echo/runs", ""); code != http.StatusForbidden || !strings.Contains(body, "none is configured") {
		t.Fatalf("start with no operator token configured = %d %s", code, body)
	}

	const token = "jobs-operator-token-0123456789"
	cfg := testConfig(t)
	cfg.NATS.Sync = "1m"
	cfg.Console.Token = token
	cfg.Jobs.Programs = []config.JobProgram{{Name: "echo", Command: []string{"echo", "hi"}}}
	hs = startHost(t, &testRole{}, cfg, nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	c := hs.jobsClient()
	startJob(t, c, "echo") // published
	for _, bearer := range []string{"", "wrong-token-0123456789"} {
		if code, body := hs.post("/jobs/echo/runs", bearer); code != http.StatusUnauthorized {
			t.Fatalf("start with token %q = %d %s", bearer, code, body)
		}
	}
	req, _ := http.NewRequest("POST", hs.base+"/jobs/echo/runs", strings.NewReader(`{"args": ["there"]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ ID, URL string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") != body.URL {
		t.Fatalf("start = %d %+v", resp.StatusCode, body)
	}
	waitRun(t, c, body.ID)
	hs.expect(body.URL+"/output", 200, "INFO  hi there") // reads: open to loopback
	hs.expect("/jobs", 200, `"name": "echo"`)
}

// A role on NATS with no jobs anywhere: the jobs API answers (no jobs,
// unknown job) without creating the jobs store on the role's NATS.
func TestJobsAPICreatesNothing(t *testing.T) {
	r := &testRole{onStart: func(ctx context.Context, _ role.Env) error {
		_, err := queue.Connect(ctx) // the role uses NATS, but has no jobs
		return err
	}}
	hs := startHost(t, r, testConfig(t), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.expect("/jobs", 200, `"jobs": []`)
	hs.expect("/jobs/nightly/runs", 404, "no jobs store")
	qc, err := hs.h.queues.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := qc.JetStream().StreamNames(context.Background())
	for name := range names.Name() {
		if strings.Contains(name, "cloudrole_jobs") {
			t.Errorf("reading the jobs API created stream %s", name)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
}

// The config's jobs defaults are package jobs' own.
func TestJobsConfigDefaultsAgree(t *testing.T) {
	c := testConfig(t).Jobs
	if c.History != jobs.DefaultHistory || c.HistorySize != jobs.DefaultHistoryBytes || c.MaxQueued != jobs.DefaultMaxQueued ||
		c.Heartbeat != jobs.DefaultHeartbeat || c.FailAfter != jobs.DefaultFailAfter || c.ScanInterval != jobs.DefaultScanInterval {
		t.Fatalf("config defaults %+v differ from package jobs'", c)
	}
}
