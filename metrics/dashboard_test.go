package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/tasks"
)

// The sample Grafana dashboard in docs/ only queries metrics we export.
func TestDashboardQueriesExist(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{Status: func() lifecycle.Status {
		return lifecycle.Status{Tasks: []tasks.GroupStatus{{Name: "g", Tasks: []tasks.TaskStatus{{Name: "t"}}}},
			Jobs:    &jobs.Status{Jobs: []jobs.JobStatus{{Name: "j"}}},
			Durable: []durable.HubStatus{{Hub: "h", Orchestrators: []durable.OrchestratorFigures{{Name: "o"}}}}}
	}})
	defer m.Close()
	// Vectors appear once they have a series.
	m.recycles.WithLabelValues("failed")
	m.started.WithLabelValues("q", "0")
	m.succeeded.WithLabelValues("q", "0")
	m.failed.WithLabelValues("q", "0")
	m.dead.WithLabelValues("q", "0")
	m.took.WithLabelValues("q")
	m.waited.WithLabelValues("q")
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
	}
	used := regexp.MustCompile(`cloudrole_[a-z_]+`).FindAllString(string(b), -1)
	if len(used) == 0 {
		t.Fatal("the dashboard queries no cloudrole metric")
	}
	for _, u := range used {
		u = strings.TrimSuffix(u, "_bucket")
		// queue_jobs_waiting comes from the status collector with queues only.
		if !have[u] && u != "cloudrole_queue_jobs_waiting" {
			t.Errorf("the dashboard queries %s, which is not exported", u)
		}
	}
}
