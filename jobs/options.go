package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/cloudrole/cloudrole/queue"
)

// Defaults of the Options fields, as WebJobs and Kudu have them where
// they have one.
const (
	// DefaultHistory is how many ended runs are kept per job (WebJobs'
	// WEBJOBS_HISTORY_SIZE).
	DefaultHistory = 50
	// DefaultHistoryBytes is how much output is kept per job, over its
	// kept runs; one run's output is kept within it too (oldest lines
	// removed first).
	DefaultHistoryBytes = 64 << 20
	// DefaultMaxQueued is how many runs of one job may be queued or
	// running before Start refuses more.
	DefaultMaxQueued = 1000
	// DefaultHeartbeat is how often a running run's record is rewritten.
	DefaultHeartbeat = 5 * time.Second
	// DefaultFailAfter is how long a run's record may stay silent before
	// the run is recorded Failed.
	DefaultFailAfter = time.Minute
	// DefaultScanInterval is how often the jobs folder is checked for
	// new, changed and removed jobs.
	DefaultScanInterval = 2 * time.Second
)

// Options configure a Runner. The zero value needs only Connect (the host
// fills every field from the config and its queue provider).
type Options struct {
	// Connect returns the NATS connection to use, waiting for it as
	// queue.Provider.Client does. The runner calls it only once it has a
	// job, so a role with no jobs starts no NATS server. Required.
	Connect func(ctx context.Context) (*queue.Client, error)

	// Instance names this instance in run records and as a lease holder.
	// Defaults to "<hostname>-<pid>".
	Instance string
	// Logger receives the runner's logs and the runs' output lines
	// (stdout at INFO, stderr at ERROR, with job and run). Defaults to
	// discarding.
	Logger *slog.Logger
	// Clock drives schedules and the restart backoff of continuous jobs,
	// so tests move time instead of waiting. Heartbeats and the
	// Disconnected/Failed rule run on real time: they are measured
	// against the server's clock. Defaults to the real clock.
	Clock clockwork.Clock

	// Jobs are defined when the runner starts, beside those added with
	// Add and those of Dir (the host passes the config's programs).
	Jobs []Job
	// Dir is a WebJobs-layout folder: Dir/continuous/<name>/ and
	// Dir/triggered/<name>/, each with its program and an optional
	// settings.job. "" means none.
	Dir string
	// Location is the time zone of the schedules of Dir's jobs. Defaults
	// to UTC, as WebJobs' default.
	Location *time.Location
	// ScanInterval is how often Dir is checked for new, changed and
	// removed job folders. Defaults to DefaultScanInterval (2s).
	ScanInterval time.Duration
	// DataDir holds WEBJOBS_DATA_PATH folders (DataDir/jobs/<type>/<name>),
	// copies of job folders and shutdown files. Defaults to a folder in
	// the OS's temporary directory.
	DataDir string
	// Env adds "KEY=VALUE" entries to every program's environment (the
	// host passes the role identity).
	Env []string

	// History is how many ended runs are kept per job; older ones are
	// removed with their output. Defaults to DefaultHistory (50).
	History int
	// HistoryBytes caps the output kept per job (over its kept runs),
	// and one run's output, whose oldest lines go first. Defaults to
	// DefaultHistoryBytes (64 MiB).
	HistoryBytes int64
	// MaxQueued caps the runs of one job queued or running (a trigger
	// stays on the job's queue until its run ended). Defaults to
	// DefaultMaxQueued (1000).
	MaxQueued int
	// Heartbeat is how often a running run's record is rewritten; a
	// record silent for three heartbeats reads as Disconnected. Defaults
	// to DefaultHeartbeat (5s).
	Heartbeat time.Duration
	// FailAfter is how long a Running record may stay silent before the
	// run is recorded Failed (by whichever instance holds the sweeper's
	// lease). At least four heartbeats. Defaults to DefaultFailAfter (1m).
	FailAfter time.Duration
	// Replicas of the jobs bucket and output stream on a cluster.
	// Defaults to 1.
	Replicas int
}

// settings are Options with defaults applied.
type settings = Options

func (o Options) withDefaults() (settings, error) {
	if o.Connect == nil {
		return o, fmt.Errorf("%w: Options.Connect is nil", ErrBadJob)
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "localhost"
		}
		o.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = DefaultScanInterval
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(os.TempDir(), "cloudrole-jobs")
	}
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.HistoryBytes <= 0 {
		o.HistoryBytes = DefaultHistoryBytes
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.FailAfter <= 0 {
		o.FailAfter = DefaultFailAfter
	}
	if o.FailAfter < 4*o.Heartbeat {
		return o, fmt.Errorf("%w: FailAfter %v is less than four heartbeats (%v): a run would fail before it reads as Disconnected", ErrBadJob, o.FailAfter, 4*o.Heartbeat)
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	return o, nil
}
