package tasks

import (
	"errors"
	"fmt"
	"time"
)

// Policy says whether a Go task restarts after its function returns.
type Policy int

const (
	// Always restarts the task after any return, nil included (after the
	// backoff delay; the restart counts toward the intensity). The default.
	Always Policy = iota
	// OnFailure restarts the task after an error, a panic or a stall; a nil
	// return stops it for good.
	OnFailure
	// Never runs the task once; whatever it returns is logged and recorded
	// in its status, and the task stops.
	Never
)

// String returns "always", "on-failure" or "never".
func (p Policy) String() string {
	switch p {
	case Always:
		return "always"
	case OnFailure:
		return "on-failure"
	case Never:
		return "never"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// MisfirePolicy says what a CRON task does about fire times it missed: those
// that passed while its previous run was still running (runs never overlap)
// or while it could not run (the process was paused, the clock jumped).
type MisfirePolicy int

const (
	// RunOnce runs the task once, at once, however many fire times were
	// missed, then follows the schedule again. This is what an Azure
	// Functions timer trigger does with a past-due occurrence. The default.
	RunOnce MisfirePolicy = iota
	// Skip drops missed fire times: the task waits for the next fire time
	// in the future.
	Skip
)

// String returns "run-once" or "skip".
func (p MisfirePolicy) String() string {
	switch p {
	case RunOnce:
		return "run-once"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("MisfirePolicy(%d)", int(p))
}

// Option configures one task. Options are checked when the task is added:
// a bad value, or an option that does not apply to the kind of task, makes
// Go, Periodic or Cron return an error wrapping ErrInvalid.
type Option interface {
	apply(*taskConfig) error
}

type optionFunc func(*taskConfig) error

func (f optionFunc) apply(c *taskConfig) error { return f(c) }

// kind is how a task is scheduled.
type kind uint8

const (
	kindGo kind = iota
	kindPeriodic
	kindCron
)

// method names the Group method that adds a task of this kind.
func (k kind) method() string {
	switch k {
	case kindPeriodic:
		return "Periodic"
	case kindCron:
		return "Cron"
	}
	return "Go"
}

func (k kind) String() string {
	switch k {
	case kindPeriodic:
		return "periodic"
	case kindCron:
		return "cron"
	}
	return "go"
}

// taskConfig is what options set, before defaults from the group apply.
type taskConfig struct {
	kind kind

	policy Policy

	backoffSet  bool
	backoffBase time.Duration
	backoffMax  time.Duration

	intensitySet bool
	maxRestarts  int
	window       time.Duration

	stallAfter time.Duration

	loc        *time.Location
	misfire    MisfirePolicy
	runOnStart bool

	single *singleton
}

func onlyFor(c *taskConfig, option string, kinds ...kind) error {
	for _, k := range kinds {
		if c.kind == k {
			return nil
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.method()
	}
	return fmt.Errorf("option %s applies to %v tasks only", option, joinOr(names))
}

func joinOr(names []string) string {
	switch len(names) {
	case 1:
		return names[0]
	case 2:
		return names[0] + " and " + names[1]
	}
	return fmt.Sprint(names)
}

// Restart sets the restart policy of a Go task. Defaults to Always.
// Periodic and CRON tasks reject it: their schedule decides when they run
// again.
func Restart(p Policy) Option {
	return optionFunc(func(c *taskConfig) error {
		if err := onlyFor(c, "Restart", kindGo); err != nil {
			return err
		}
		if p < Always || p > Never {
			return fmt.Errorf("option Restart: unknown policy %d", int(p))
		}
		c.policy = p
		return nil
	})
}

// Backoff sets the restart delay of a Go task: base before the first
// restart, doubling (±10% jitter) up to max; base 0 restarts at once.
// Defaults to the group's BackoffBase and BackoffMax. It is an error if
// base is negative or max is smaller than base.
func Backoff(base, max time.Duration) Option {
	return optionFunc(func(c *taskConfig) error {
		if err := onlyFor(c, "Backoff", kindGo); err != nil {
			return err
		}
		if base < 0 || max < base {
			return fmt.Errorf("option Backoff(%v, %v): want 0 <= base <= max", base, max)
		}
		c.backoffSet, c.backoffBase, c.backoffMax = true, base, max
		return nil
	})
}

// Intensity sets the task's restart intensity: more than maxRestarts
// restarts (failed runs, for periodic and CRON tasks) within window ends the
// group with a *FatalError wrapping ErrIntensity. A negative maxRestarts
// never escalates. Defaults to the group's MaxRestarts and RestartWindow. It
// is an error if maxRestarts >= 0 and window <= 0.
func Intensity(maxRestarts int, window time.Duration) Option {
	return optionFunc(func(c *taskConfig) error {
		if maxRestarts >= 0 && window <= 0 {
			return fmt.Errorf("option Intensity(%d, %v): want a positive window", maxRestarts, window)
		}
		c.intensitySet, c.maxRestarts, c.window = true, maxRestarts, window
		return nil
	})
}

// StallAfter enables stall detection: a run that has not called Beat (or
// started) within limit has its context cancelled with cause ErrStalled and
// counts as a failure (a Go task restarts per its policy; a scheduled task
// waits for its next run). If the function ignores the cancellation for the
// group's Grace period, the group ends with a *FatalError wrapping
// ErrAbandoned. Off by default. It is an error if limit <= 0.
func StallAfter(limit time.Duration) Option {
	return optionFunc(func(c *taskConfig) error {
		if limit <= 0 {
			return fmt.Errorf("option StallAfter(%v): want a positive limit", limit)
		}
		c.stallAfter = limit
		return nil
	})
}

// Location sets the time zone a CRON spec is read in. Defaults to UTC (not
// the machine's zone, so a schedule means the same thing on every machine,
// as with WebJobs' default). It is an error if loc is nil.
func Location(loc *time.Location) Option {
	return optionFunc(func(c *taskConfig) error {
		if err := onlyFor(c, "Location", kindCron); err != nil {
			return err
		}
		if loc == nil {
			return errors.New("option Location: nil location")
		}
		c.loc = loc
		return nil
	})
}

// Misfire sets what a CRON task does about missed fire times. Defaults to
// RunOnce.
func Misfire(p MisfirePolicy) Option {
	return optionFunc(func(c *taskConfig) error {
		if err := onlyFor(c, "Misfire", kindCron); err != nil {
			return err
		}
		if p < RunOnce || p > Skip {
			return fmt.Errorf("option Misfire: unknown policy %d", int(p))
		}
		c.misfire = p
		return nil
	})
}

// RunOnStart makes a CRON task also run as soon as it starts (and, for a
// Singleton, as soon as it acquires its lock), then follow its schedule.
// Periodic tasks always run at start.
func RunOnStart() Option {
	return optionFunc(func(c *taskConfig) error {
		if err := onlyFor(c, "RunOnStart", kindCron); err != nil {
			return err
		}
		c.runOnStart = true
		return nil
	})
}
