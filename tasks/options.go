package tasks

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jonboulle/clockwork"
)

// Defaults used when the matching Options field is zero. Why these values:
//
//   - The restart delay starts at DefaultBackoffBase and doubles up to
//     DefaultBackoffMax: a crash is retried almost at once (most failures are
//     transient), and a task that keeps failing settles at one attempt every
//     30 seconds instead of burning CPU and logs.
//   - DefaultMaxRestarts within DefaultRestartWindow: with the default delays
//     a task that fails at once every time fails for the 11th time, after
//     its 10th restart, about 81 seconds after the first failure (the ten
//     delays 0.1+0.2+...+25.6 s and 30 s, ±10% jitter, plus its run times),
//     so a persistent fault escalates to a role recycle in under a minute
//     and a half, while an outage of a minute or so is absorbed by the task
//     alone. The window
//     is wider than the whole backoff ramp; a narrower one could never see
//     more than a few restarts of a backing-off task and would never fire.
//   - DefaultGrace: a task that honours its context returns within
//     milliseconds; ten seconds lets an in-flight call that ignores the
//     context finish, and stays far below the host's stop deadline
//     (5 minutes) so a stuck task is reported before the process is killed.
const (
	DefaultBackoffBase   = 100 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	DefaultMaxRestarts   = 10
	DefaultRestartWindow = 5 * time.Minute
	DefaultGrace         = 10 * time.Second
)

// backoffJitterPercent spreads restart delays by ±10% so tasks that failed
// together do not restart in lockstep.
const backoffJitterPercent = 10

// Options configures a Group. The zero value works: every field says what
// its zero value means. Fields apply to every task of the group; the task
// options Backoff, Intensity and StallAfter override them per task.
type Options struct {
	// Name names the group in logs, events and its status section.
	// Defaults to "tasks".
	Name string

	// Logger receives the group's logs (panics with stacks, failures,
	// restarts, stalls, lease changes). Defaults to the host's logger when
	// the context carries a host (internal/hostctx), else logs are discarded.
	Logger *slog.Logger

	// Clock drives every delay the group waits for: restart backoff, stall
	// limits, grace periods, periodic intervals, CRON schedules and lease
	// renewals. Tests pass clockwork.NewFakeClock(). Defaults to the real
	// clock.
	Clock clockwork.Clock

	// OnEvent, if set, is called with every Event (EventPanic, EventBackoff,
	// ...) synchronously from the goroutine where it happened, so it sees
	// events in order per task. It must not block or panic.
	OnEvent func(Event)

	// BackoffBase is the delay before the first restart of a failed task;
	// each further consecutive restart doubles it, with ±10% jitter, up to
	// BackoffMax. The sequence starts over after a run that lasted at least
	// BackoffMax. Defaults to DefaultBackoffBase (100ms); negative means
	// restart at once.
	BackoffBase time.Duration

	// BackoffMax caps the restart delay. Defaults to DefaultBackoffMax (30s);
	// raised to BackoffBase if smaller.
	BackoffMax time.Duration

	// MaxRestarts is the restart intensity: a task that restarts more than
	// MaxRestarts times within RestartWindow ends the group with a
	// *FatalError wrapping ErrIntensity. For periodic and CRON tasks, failed
	// runs count as restarts. Defaults to DefaultMaxRestarts (10); negative
	// means never escalate.
	MaxRestarts int

	// RestartWindow is the window of the restart intensity. Defaults to
	// DefaultRestartWindow (5m).
	RestartWindow time.Duration

	// Grace is how long a task may take to return after the group cancelled
	// its context (stall, lost lease, or the group ending). Past it the task
	// is abandoned (ErrAbandoned): fatal while the group runs, reported by
	// Wait when it ends. Defaults to DefaultGrace (10s).
	Grace time.Duration

	// Instance identifies this group as a lock holder for Singleton tasks;
	// the host sets it to the instance ID. Defaults to
	// "<hostname>-<pid>-<random>", unique per group.
	Instance string
}

// settings are Options with every default applied.
type settings struct {
	name          string
	logger        *slog.Logger
	clock         clockwork.Clock
	onEvent       func(Event)
	backoffBase   time.Duration // 0: restart at once
	backoffMax    time.Duration
	maxRestarts   int // <0: never escalate
	restartWindow time.Duration
	grace         time.Duration
	instance      string
}

func (o Options) settings(fallback *slog.Logger) settings {
	s := settings{
		name:          o.Name,
		logger:        o.Logger,
		clock:         o.Clock,
		onEvent:       o.OnEvent,
		backoffBase:   o.BackoffBase,
		backoffMax:    o.BackoffMax,
		maxRestarts:   o.MaxRestarts,
		restartWindow: o.RestartWindow,
		grace:         o.Grace,
		instance:      o.Instance,
	}
	if s.name == "" {
		s.name = "tasks"
	}
	if s.logger == nil {
		s.logger = fallback
	}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	switch {
	case s.backoffBase == 0:
		s.backoffBase = DefaultBackoffBase
	case s.backoffBase < 0:
		s.backoffBase = 0
	}
	if s.backoffMax <= 0 {
		s.backoffMax = DefaultBackoffMax
	}
	s.backoffMax = max(s.backoffMax, s.backoffBase)
	if s.maxRestarts == 0 {
		s.maxRestarts = DefaultMaxRestarts
	}
	if s.restartWindow <= 0 {
		s.restartWindow = DefaultRestartWindow
	}
	if s.grace <= 0 {
		s.grace = DefaultGrace
	}
	if s.instance == "" {
		s.instance = defaultInstance()
	}
	return s
}

// defaultInstance returns "<hostname>-<pid>-<random>": unique per group, so
// two groups in one process compete for a singleton lock like two machines.
func defaultInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
