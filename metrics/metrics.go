package metrics

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
)

// Options say where the figures come from.
type Options struct {
	// Status returns the host's snapshot; read at each scrape. Required.
	Status func() lifecycle.Status
	// Queues, if set, delivers the job events of the process's workers.
	Queues *queue.Provider
}

// Metrics is a host's metrics registry. Safe for concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	remove func()

	recycles                                   *prometheus.CounterVec
	started, succeeded, failed, dead, handedBk *prometheus.CounterVec
	took, waited                               *prometheus.HistogramVec
}

// New returns the metrics of one host: the Go runtime's and the process's
// collectors, the status collector, and the event counters (subscribed to
// o.Queues at once, so they count from the first job).
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	jobLabels := []string{"queue", "level"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cloudrole", Name: name, Help: help}, labels)
	}
	m.recycles = counter("host_recycles_total", "In-process recycles of the role instance, by kind: failed (a startup task, OnStart or Run failed), short_lived (Run returned before healthy_after), requested (RequestRecycle), veto (a vetoed settings change), other.", "kind")
	m.started = counter("queue_jobs_started_total", "Handler calls started, by queue and priority level (0 is the highest).", jobLabels...)
	m.succeeded = counter("queue_jobs_succeeded_total", "Jobs whose handler returned nil (acknowledged).", jobLabels...)
	m.failed = counter("queue_jobs_failed_total", "Attempts that failed and will be retried.", jobLabels...)
	m.dead = counter("queue_jobs_dead_lettered_total", "Jobs stored in the dead-letter stream.", jobLabels...)
	m.handedBk = counter("queue_jobs_handed_back_total", "Jobs a stopping worker gave back unfinished.", jobLabels...)
	m.took = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "cloudrole", Name: "queue_handler_duration_seconds",
		Help: "How long handlers ran, by queue.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"queue"})
	m.waited = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "cloudrole", Name: "queue_wait_seconds",
		Help: "How long a job was stored before this attempt started (enqueue to start for a first attempt), by queue.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 12)}, []string{"queue"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&statusCollector{status: o.Status},
		m.recycles, m.started, m.succeeded, m.failed, m.dead, m.handedBk, m.took, m.waited,
	)
	if o.Queues != nil {
		m.remove = o.Queues.Observe(m.jobEvent)
	}
	return m
}

// Registry is where a role registers its own collectors beside ours.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Close stops observing the queues.
func (m *Metrics) Close() {
	if m.remove != nil {
		m.remove()
	}
}

// HostEvent counts a host event; pass it lifecycle.Options.Events (chained
// with any other handler).
func (m *Metrics) HostEvent(ev lifecycle.Event) {
	if r, ok := ev.(lifecycle.Recycled); ok {
		m.recycles.WithLabelValues(recycleKind(r.Recycle)).Inc()
	}
}

// recycleKind sorts a recycle into a bounded set of kinds from its reason.
func recycleKind(r lifecycle.Recycle) string {
	switch {
	case r.Failed:
		return "failed"
	case strings.HasPrefix(r.Reason, "recycle requested"):
		return "requested"
	case strings.HasPrefix(r.Reason, "settings change vetoed"):
		return "veto"
	case strings.HasPrefix(r.Reason, "Run returned nil"):
		return "short_lived"
	}
	return "other"
}

func (m *Metrics) jobEvent(ev queue.Event) {
	switch e := ev.(type) {
	case queue.JobStarted:
		m.started.WithLabelValues(e.Queue, level(e.Priority)).Inc()
		if e.Waited > 0 {
			m.waited.WithLabelValues(e.Queue).Observe(e.Waited.Seconds())
		}
	case queue.JobSucceeded:
		m.succeeded.WithLabelValues(e.Queue, level(e.Priority)).Inc()
		m.took.WithLabelValues(e.Queue).Observe(e.Took.Seconds())
	case queue.JobFailed:
		m.failed.WithLabelValues(e.Queue, level(e.Priority)).Inc()
		m.took.WithLabelValues(e.Queue).Observe(e.Took.Seconds())
	case queue.JobDeadLettered:
		m.dead.WithLabelValues(e.Queue, level(e.Priority)).Inc()
		if e.Took > 0 {
			m.took.WithLabelValues(e.Queue).Observe(e.Took.Seconds())
		}
	case queue.JobHandedBack:
		m.handedBk.WithLabelValues(e.Queue, level(e.Priority)).Inc()
	}
}

func level(p queue.Priority) string { return strconv.Itoa(int(p)) }
