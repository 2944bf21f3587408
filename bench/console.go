package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/cloudrole/cloudrole/console"
	"github.com/cloudrole/cloudrole/fleet"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/metrics"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/tasks"
)

// consoleBudgets measures the console's own costs against fixed budgets
// (there is no baseline to race): the fleet page with many instances, the
// queues page with many queues, a /metrics scrape with about a thousand
// series, and the CPU one instance spends publishing its fleet snapshot.
// The ratio is budget / measured: above 1, within budget.
func consoleBudgets(e *env) ([]row, error) {
	instances, queues, tasksN := 100, 50, 320
	if e.sz.name == "smoke" {
		instances, queues, tasksN = 5, 3, 10
	}
	dir, err := os.MkdirTemp("", "cloudrole-bench-console")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: dir}})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	ctx := context.Background()
	c, err := p.Client(ctx)
	if err != nil {
		return nil, err
	}
	st := benchStatus(tasksN)
	// The fleet: one publish per instance, each with a realistic snapshot.
	for i := range instances {
		inst := fmt.Sprintf("worker_%03d", i)
		pub := fleet.NewPublisher("bench", inst, "bench", func() (string, fleet.Summary, any) { return "running", st.Summary(), st }, func() *queue.Client { return c }, nil)
		pub.Publish(ctx)
	}
	for i := range queues {
		if _, err := c.Queue(ctx, fmt.Sprintf("q%02d", i), queue.Config{}); err != nil {
			return nil, err
		}
	}
	host := benchHost{st: st}
	con, err := console.New(console.Options{Host: host, Queues: p, OpenReads: true})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	con.Routes(mux)
	met := metrics.New(metrics.Options{Status: host.Status, Queues: p})
	defer met.Close()
	mux.Handle("GET /metrics", met.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fleetMs, err := timeGet(srv.URL+"/console/", e.sz.reps*3)
	if err != nil {
		return nil, err
	}
	queuesMs, err := timeGet(srv.URL+"/console/queues", e.sz.reps*3)
	if err != nil {
		return nil, err
	}
	metricsMs, err := timeGet(srv.URL+"/metrics", e.sz.reps*3)
	if err != nil {
		return nil, err
	}
	series, err := countSeries(srv.URL + "/metrics")
	if err != nil {
		return nil, err
	}
	// Publishing: CPU time per publish, against one core over the
	// publish interval.
	pub := fleet.NewPublisher("bench", "publisher", "bench", func() (string, fleet.Summary, any) { return "running", st.Summary(), st }, func() *queue.Client { return c }, nil)
	pub.Publish(ctx)
	n := 50 * e.sz.reps
	before := cpuNow()
	for range n {
		pub.Publish(ctx)
	}
	perPublish := (cpuNow() - before) / time.Duration(n)
	share := 100 * perPublish.Seconds() / fleet.Interval.Seconds()

	budget := func(name, unit string, v, limit float64) row {
		return row{Scenario: name, Unit: unit, Cloudrole: v, Baseline: "budget", Base: limit, Ratio: limit / v, Target: fmt.Sprintf("≤ %g %s", limit, unit)}
	}
	return []row{
		budget(fmt.Sprintf("console fleet page, %d instances", instances), "ms", fleetMs, 100),
		budget(fmt.Sprintf("console queues page, %d queues", queues), "ms", queuesMs, 100),
		budget(fmt.Sprintf("/metrics scrape, %d series", series), "ms", metricsMs, 50),
		budget("fleet snapshot publishing, CPU of one core (process, server included)", "%", share, 1),
	}, nil
}

// timeGet returns the median time of reps GETs of url, in milliseconds,
// after one warm-up.
func timeGet(url string, reps int) (float64, error) {
	reps = max(reps, 3)
	var ms []float64
	for i := range reps + 1 {
		t0 := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: %d %v", url, resp.StatusCode, err)
		}
		if i > 0 {
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	sort.Float64s(ms)
	return ms[len(ms)/2], nil
}

// countSeries counts the sample lines of a Prometheus text scrape.
func countSeries(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	n := 0
	start := 0
	for i, ch := range b {
		if ch == '\n' {
			if i > start && b[start] != '#' {
				n++
			}
			start = i + 1
		}
	}
	return n, nil
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchStatus is a host snapshot of the size a busy role has: task groups
// with n tasks in all, a full recycle history.
func benchStatus(n int) lifecycle.Status {
	st := lifecycle.Status{State: lifecycle.StateRunning, Ready: true, Recycles: 12,
		Identity: role.Identity{Role: "bench", InstanceID: "bench_0", Deployment: "bench", Incarnation: 13}}
	for g := range 4 {
		gs := tasks.GroupStatus{Name: fmt.Sprintf("group%d", g), State: "running"}
		for i := range n / 4 {
			gs.Tasks = append(gs.Tasks, tasks.TaskStatus{Name: fmt.Sprintf("task%03d", i), Kind: "go", State: tasks.StateRunning, Restarts: i % 3, Runs: int64(i)})
		}
		st.Tasks = append(st.Tasks, gs)
	}
	for i := range 50 {
		st.RecycleHistory = append(st.RecycleHistory, lifecycle.Recycle{At: time.Now(), Incarnation: i + 1, Reason: "recycle requested: rotate credentials"})
	}
	return st
}

// benchHost is the console's host: a fixed snapshot.
type benchHost struct{ st lifecycle.Status }

func (h benchHost) Status() lifecycle.Status { return h.st }
func (benchHost) Freeze(string)              {}
func (benchHost) Unfreeze()                  {}
