package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudrole/cloudrole/lifecycle"
)

// statusCollector turns the host's snapshot into metrics at each scrape.
type statusCollector struct {
	status func() lifecycle.Status
}

var (
	descState    = desc("host_state", "1 for the host's current state, 0 for the others.", "state")
	descReady    = desc("host_ready", "1 while the instance is ready (the readiness probe's 200).")
	descBusy     = desc("host_busy", "1 while the role has marked itself busy.")
	descFrozen   = desc("host_frozen", "1 while the host is frozen (the Freeze setting, or its own crash-loop freeze).")
	descUptime   = desc("host_uptime_seconds", "Seconds since the instance became ready.")
	descStreak   = desc("host_consecutive_failures", "Consecutive failed or short-lived instances (the crash-loop streak).")
	descRecycled = desc("host_recycled_total", "Recycles since the process started, all kinds.")
	descRestarts = desc("task_restarts_total", "Restarts of a supervised task (failed runs of a scheduled one) in the current instance.", "group", "task")
	descPanics   = desc("task_panics_total", "Panics recovered from a supervised task in the current instance.", "group", "task")
	descRuns     = desc("task_runs_total", "Calls of a supervised task's function in the current instance.", "group", "task")
	descWaiting  = desc("queue_jobs_waiting", "Jobs stored at a queue's level, not yet delivered.", "queue", "level")
	descInFlight = desc("queue_jobs_in_flight", "Jobs this process's workers are running, by queue.", "queue")
	descNATSUp   = desc("nats_connected", "1 while the NATS connection is up (0 before the role first connects).")
	descReconn   = desc("nats_reconnects_total", "Reconnections of the NATS connection.")

	// Job runs (package jobs), by job name, as this instance's runner
	// counts them: runs started and ended here since it started.
	descRunsStarted   = desc("job_runs_started_total", "Job runs started on this instance, by job.", "job")
	descRunsCompleted = desc("job_runs_completed_total", "Job runs that ended Completed on this instance, by job.", "job")
	descRunsFailed    = desc("job_runs_failed_total", "Job runs that ended Failed on this instance, by job.", "job")
	descRunsStopped   = desc("job_runs_stopped_total", "Job runs that ended Stopped on this instance, by job.", "job")

	// Orchestrations (package durable), by hub and orchestrator name, as
	// the hubs this instance works count them (durable.OrchestratorFigures).
	descOrchStarted   = desc("orchestrations_started_total", "Orchestration executions whose first task ran on this instance, by hub and orchestrator.", "hub", "orchestrator")
	descOrchCompleted = desc("orchestrations_completed_total", "Orchestration executions that completed on this instance, by hub and orchestrator.", "hub", "orchestrator")
	descOrchFailed    = desc("orchestrations_failed_total", "Orchestration executions that failed on this instance, by hub and orchestrator.", "hub", "orchestrator")
	descOrchContinued = desc("orchestrations_continued_as_new_total", "Orchestration executions that continued as new on this instance, by hub and orchestrator.", "hub", "orchestrator")
	descOrchTerm      = desc("orchestrations_terminated_total", "Orchestration instances terminated through this instance's hubs, by hub and orchestrator.", "hub", "orchestrator")
	descActivities    = desc("orchestration_activities_total", "Activity executions completed on this instance (failed ones included), by hub.", "hub")
	descActFailed     = desc("orchestration_activity_failures_total", "Activity executions that returned an error on this instance, by hub.", "hub")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("cloudrole_"+name, help, labels, nil)
}

// hostStates are every state host_state reports, so a dashboard sees the
// zeros too.
var hostStates = []lifecycle.State{
	lifecycle.StateStarting, lifecycle.StateFrozen, lifecycle.StateOnStart, lifecycle.StateReady,
	lifecycle.StateRunning, lifecycle.StateStopping, lifecycle.StateRecycling, lifecycle.StateStopped,
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descReady, descBusy, descFrozen, descUptime, descStreak, descRecycled,
		descRestarts, descPanics, descRuns, descWaiting, descInFlight, descNATSUp, descReconn,
		descRunsStarted, descRunsCompleted, descRunsFailed, descRunsStopped,
		descOrchStarted, descOrchCompleted, descOrchFailed, descOrchContinued, descOrchTerm, descActivities, descActFailed} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	count := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, st := range hostStates {
		gauge(descState, b2f(s.State == st), string(st))
	}
	gauge(descReady, b2f(s.Ready))
	gauge(descBusy, b2f(s.Busy))
	gauge(descFrozen, b2f(s.Frozen != ""))
	gauge(descUptime, time.Duration(s.Uptime).Seconds())
	gauge(descStreak, float64(s.ConsecutiveFailures))
	count(descRecycled, float64(s.Recycles))
	// Two groups or queues of one name (a role may make them) would be one
	// series twice, which Prometheus refuses: the first one stands.
	seen := map[string]bool{}
	for _, g := range s.Tasks {
		for _, t := range g.Tasks {
			if k := g.Name + "\x00" + t.Name; seen[k] {
				continue
			} else {
				seen[k] = true
			}
			count(descRestarts, float64(t.Restarts), g.Name, t.Name)
			count(descPanics, float64(t.Panics), g.Name, t.Name)
			count(descRuns, float64(t.Runs), g.Name, t.Name)
		}
	}
	for _, q := range s.NATS.Queues {
		if seen["queue\x00"+q.Name] {
			continue
		}
		seen["queue\x00"+q.Name] = true
		for l, n := range q.Pending {
			if n >= 0 {
				gauge(descWaiting, float64(n), q.Name, strconv.Itoa(l))
			}
		}
		gauge(descInFlight, float64(q.InFlight), q.Name)
	}
	gauge(descNATSUp, b2f(s.NATS.State == "connected"))
	count(descReconn, float64(s.NATS.Reconnects))
	if s.Jobs != nil {
		for _, j := range s.Jobs.Jobs {
			if k := "job\x00" + j.Name; seen[k] {
				continue
			} else {
				seen[k] = true
			}
			count(descRunsStarted, float64(j.Started), j.Name)
			count(descRunsCompleted, float64(j.Completed), j.Name)
			count(descRunsFailed, float64(j.Failed), j.Name)
			count(descRunsStopped, float64(j.Stopped), j.Name)
		}
	}
	for _, h := range s.Durable {
		if k := "hub\x00" + h.Hub; seen[k] {
			continue
		} else {
			seen[k] = true
		}
		count(descActivities, float64(h.ActivitiesDone), h.Hub)
		count(descActFailed, float64(h.ActivitiesFailed), h.Hub)
		for _, o := range h.Orchestrators {
			count(descOrchStarted, float64(o.Started), h.Hub, o.Name)
			count(descOrchCompleted, float64(o.Completed), h.Hub, o.Name)
			count(descOrchFailed, float64(o.Failed), h.Hub, o.Name)
			count(descOrchContinued, float64(o.ContinuedAsNew), h.Hub, o.Name)
			count(descOrchTerm, float64(o.Terminated), h.Hub, o.Name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
