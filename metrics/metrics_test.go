package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/cloudrole/cloudrole/durable"
	crtest "github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/tasks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, crtest.ServerGoroutines...) }

// A host-like snapshot and real job events: every series is named by
// Prometheus' conventions (the library's lint finds nothing), and the
// figures are the ones the snapshot and the jobs say.
func TestMetrics(t *testing.T) {
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	status := lifecycle.Status{
		State: lifecycle.StateRunning, Ready: true, Recycles: 3, ConsecutiveFailures: 1,
		Tasks: []tasks.GroupStatus{{Name: "orders", Tasks: []tasks.TaskStatus{{Name: "worker", Restarts: 2, Panics: 1, Runs: 3}}}},
		Jobs:  &jobs.Status{Jobs: []jobs.JobStatus{{Name: "report", Started: 5, Completed: 3, Failed: 1, Stopped: 1, Running: []string{"report.20260101T000000Z-abcdef"}}}},
		Durable: []durable.HubStatus{{Hub: "orders", ActivitiesDone: 7, ActivitiesFailed: 2,
			Orchestrators: []durable.OrchestratorFigures{{Name: "approval", Started: 4, Completed: 2, Failed: 1, Terminated: 1}}}},
	}
	m := New(Options{Status: func() lifecycle.Status { s := status; s.NATS = p.Status(); return s }, Queues: p})
	defer m.Close()

	ctx := context.Background()
	c, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue(ctx, "mail", queue.Config{MaxDeliver: 1})
	if err != nil {
		t.Fatal(err)
	}
	q.Enqueue(ctx, []byte("ok"), queue.WithPriority(queue.High))
	q.Enqueue(ctx, []byte("bad"))
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- q.Work(wctx, func(_ context.Context, j *queue.Job) error {
			if string(j.Payload) == "bad" {
				return errors.New("no such mailbox")
			}
			return nil
		}, queue.WorkerOptions{})
	}()
	// Counters notify nothing; poll them.
	if !crtest.Poll(func() bool { return testutil.ToFloat64(m.dead.WithLabelValues("mail", "1")) >= 1 }, 10*time.Second) {
		t.Fatal("the bad job was never dead-lettered")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m.HostEvent(lifecycle.Recycled{Recycle: lifecycle.Recycle{Reason: "recycle requested: rotate", Failed: false}})
	m.HostEvent(lifecycle.Recycled{Recycle: lifecycle.Recycle{Reason: "Run failed: boom", Failed: true}})

	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("lint: %s: %s", pr.Metric, pr.Text)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`cloudrole_host_state{state="running"} 1`,
		`cloudrole_host_state{state="frozen"} 0`,
		`cloudrole_host_ready 1`,
		`cloudrole_host_recycled_total 3`,
		`cloudrole_host_recycles_total{kind="requested"} 1`,
		`cloudrole_host_recycles_total{kind="failed"} 1`,
		`cloudrole_task_restarts_total{group="orders",task="worker"} 2`,
		`cloudrole_task_panics_total{group="orders",task="worker"} 1`,
		`cloudrole_queue_jobs_started_total{level="0",queue="mail"} 1`,
		`cloudrole_queue_jobs_succeeded_total{level="0",queue="mail"} 1`,
		`cloudrole_queue_jobs_dead_lettered_total{level="1",queue="mail"} 1`,
		`cloudrole_queue_handler_duration_seconds_count{queue="mail"} 2`,
		`cloudrole_queue_wait_seconds_count{queue="mail"} 2`,
		`cloudrole_queue_jobs_waiting{level="0",queue="mail"} 0`,
		`cloudrole_nats_connected 1`,
		`cloudrole_job_runs_started_total{job="report"} 5`,
		`cloudrole_job_runs_completed_total{job="report"} 3`,
		`cloudrole_job_runs_failed_total{job="report"} 1`,
		`cloudrole_job_runs_stopped_total{job="report"} 1`,
		`cloudrole_orchestrations_started_total{hub="orders",orchestrator="approval"} 4`,
		`cloudrole_orchestrations_completed_total{hub="orders",orchestrator="approval"} 2`,
		`cloudrole_orchestrations_failed_total{hub="orders",orchestrator="approval"} 1`,
		`cloudrole_orchestrations_terminated_total{hub="orders",orchestrator="approval"} 1`,
		`cloudrole_orchestrations_continued_as_new_total{hub="orders",orchestrator="approval"} 0`,
		`cloudrole_orchestration_activities_total{hub="orders"} 7`,
		`cloudrole_orchestration_activity_failures_total{hub="orders"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(string(body), "no such mailbox") {
		t.Error("an error text reached a label")
	}
	if strings.Contains(string(body), "report.2026") {
		t.Error("a run ID reached a label")
	}
}
