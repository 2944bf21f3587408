package config

import (
	"github.com/cloudrole/cloudrole/internal/natsopts"
	"time"

	"github.com/cloudrole/cloudrole/startup"
)

// Config is a role's whole configuration: the file's content with the
// environment overrides applied and defaults filled in. A Config returned by
// Load or Parse is valid.
type Config struct {
	// File is the path the config was loaded from; "" if none.
	File string

	Role     Role
	Host     Host
	Health   Health
	Log      Log
	NATS     NATS
	Console  Console
	Service  Service
	Startup  []startup.Task
	Jobs     Jobs
	Settings map[string]string
}

// Console configures the web console (package console) and who may act
// in it.
type Console struct {
	// Addr is where the console is served. "" (the default) serves it
	// under /console/ on the health server when health.addr is on loopback,
	// and nowhere otherwise; "health" serves it there whatever the address;
	// "off" disables it; host:port gives it a listener of its own. Off
	// loopback, a token is required (to read as well as to act).
	Addr string
	// Token is an operator token (named "config" in the log of actions).
	// At least 16 characters. Prefer TokenFile: a token in the config file
	// is readable by whoever reads the file.
	Token string
	// TokenFile holds operator tokens, one "name token" per line (blank
	// lines and # comments allowed), each token at least 16 characters.
	// Relative paths resolve against the config file's directory.
	TokenFile string
}

// Role names the role and where it keeps local state.
type Role struct {
	// Name is the role's name. Defaults to the program's base name.
	Name string
	// InstanceID names this instance. Defaults to "<name>_<hostname>".
	InstanceID string
	// Deployment names the deployment or environment. Defaults to "default".
	Deployment string
	// DataDir holds durable local state (e.g. the embedded NATS store).
	// Defaults to "data/<name>". Relative paths, the default included, are
	// resolved against the config file's directory (the working directory
	// when there is no file).
	DataDir string
}

// Host tunes the host's lifecycle.
type Host struct {
	// StopTimeout bounds a whole stop (Run returning, OnStop, foreground
	// startup tasks). Past it the process exits non-zero. Defaults to 5m.
	StopTimeout time.Duration
	// HealthyAfter is how long an instance must run to count as healthy,
	// which resets the crash-loop streak. Defaults to 2m (Kudu's figure).
	HealthyAfter time.Duration
	// BackoffBase is the first crash-loop delay; it doubles per consecutive
	// failure. Defaults to 1s.
	BackoffBase time.Duration
	// BackoffMax caps the crash-loop delay. Defaults to 1m.
	BackoffMax time.Duration
	// BackoffJitter is the jitter in percent applied to each delay.
	// Defaults to 20.
	BackoffJitter int
	// MaxFailures is the count of consecutive failed or short-lived
	// instances that triggers FailureAction. Defaults to 5; must be ≥ 1.
	MaxFailures int
	// FailureAction is "freeze" (the default: idle in state frozen until
	// the config changes) or "exit" (exit non-zero so a service manager
	// takes over).
	FailureAction string
	// ReloadInterval is how often the config file is checked for changes;
	// 0 turns live reload off. Defaults to 2s.
	ReloadInterval time.Duration
	// HandlerTimeout bounds each Changing/Changed handler call; a Changing
	// handler that overruns counts as a veto. Defaults to 10s.
	HandlerTimeout time.Duration
}

// Health configures the probe endpoint.
type Health struct {
	// Addr is the listen address. Defaults to "127.0.0.1:8080". "off"
	// disables the endpoint; port 0 picks a free port.
	Addr string
}

// Log configures the host's logger.
type Log struct {
	// Level is debug, info, warn or error. Defaults to info.
	Level string
	// Format is text or json. Defaults to text.
	Format string
}

// NATS is the nats section: where the queues live (an external server, or
// the embedded one). It is the same type as queue.NATS, so the host hands
// it to the queue provider whole, and one validator (Validate, at load)
// decides what both accept. Load fills StoreDir with "<data_dir>/nats";
// code that changes Role.DataDir afterwards must set it too. Sync defaults
// to "always", Listen to "127.0.0.1:-1".
type NATS = natsopts.Settings

// Service configures installation as an OS service.
type Service struct {
	// Name is the service (unit) name. Defaults to the role name.
	Name string
	// DisplayName is shown by the service manager. Defaults to Name.
	DisplayName string
	// Description describes the service.
	Description string
	// User runs the service as this user; empty means the manager's default.
	User string
	// WorkingDir is the service's working directory.
	WorkingDir string
	// Env adds environment variables to the service.
	Env map[string]string
}

// Jobs is the jobs section: the host's job runner (package jobs). Its
// changes take effect at the next instance start; the jobs folder (Dir)
// is looked at live. The defaults are package jobs' own.
type Jobs struct {
	// Dir is a WebJobs-layout folder (continuous/<name>/, triggered/<name>/)
	// whose jobs the host runs. "" means none. Relative to the config
	// file's directory.
	Dir string
	// History is how many ended runs are kept per job. Defaults to 50.
	History int
	// HistorySize caps the output kept per job, in bytes. Defaults to
	// 64 MiB.
	HistorySize int64
	// MaxQueued caps the runs of one job queued or running.
	// Defaults to 1000.
	MaxQueued int
	// Heartbeat is how often a running run's record is rewritten; three
	// missed ones make it Disconnected. Defaults to 5s.
	Heartbeat time.Duration
	// FailAfter is how long a Disconnected run's record may stay silent
	// before the run is recorded Failed; at least four heartbeats.
	// Defaults to 1m.
	FailAfter time.Duration
	// ScanInterval is how often Dir is looked at. Defaults to 2s.
	ScanInterval time.Duration
	// TimeZone is the zone of schedules (an IANA name, or "Local").
	// Defaults to "UTC", as WebJobs.
	TimeZone string
	// Replicas of the jobs' NATS bucket and stream on a cluster. Defaults
	// to 1.
	Replicas int
	// Programs are external programs run as jobs, declared here rather
	// than in Dir.
	Programs []JobProgram
}

// JobProgram is one external program of the jobs section.
type JobProgram struct {
	// Name follows WebJobs' rule: a letter or digit, then letters,
	// digits, - and _, at most 50 characters. Required, unique.
	Name string
	// Type is "triggered" (the default) or "continuous".
	Type string
	// Command is the program and its first arguments. Required.
	Command []string
	// Dir is the working directory; relative to the config file's
	// directory. Defaults to the host's.
	Dir string
	// Env adds variables to the program's environment.
	Env map[string]string
	// Schedule is a 6-field NCRONTAB spec (triggered only).
	Schedule string
	// Singleton: one run at a time (triggered), or one instance of the
	// fleet (continuous).
	Singleton bool
	// StoppingWaitTime is the wait between SIGTERM and SIGKILL. Defaults
	// to 5s.
	StoppingWaitTime time.Duration
	// Concurrency is how many runs one instance runs at once (triggered).
	// Defaults to 1.
	Concurrency int
}
