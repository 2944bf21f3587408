package queue

import (
	"fmt"
	"math"
	"time"
)

// Priority is a queue level: 0 is the highest. A queue with Levels n has
// levels 0..n-1.
type Priority int

// Names for the levels of a queue with the default three levels.
const (
	High   Priority = 0
	Normal Priority = 1
	Low    Priority = 2
)

// Config shapes one queue. The zero value gives the documented defaults.
type Config struct {
	// Levels is the number of priority levels, 1..16. Defaults to 3
	// (High, Normal, Low).
	Levels int
	// DefaultPriority is the level of an enqueue without WithPriority.
	// Defaults to the middle level, (Levels-1)/2 (Normal with 3 levels);
	// set it with UseDefaultPriority since 0 (High) is a valid level.
	DefaultPriority Priority
	// UseDefaultPriority makes DefaultPriority count even when it is 0.
	UseDefaultPriority bool
	// MaxDeliver is the number of attempts before a failing job is
	// dead-lettered. Defaults to 5 (as the Azure WebJobs SDK).
	MaxDeliver int
	// AckWait is the lease of a delivered job: a job whose worker neither
	// finishes nor heartbeats within it is delivered again. Workers
	// heartbeat every AckWait/3. Defaults to 30s; at least 100ms.
	AckWait time.Duration
	// RetryBase and RetryMax shape the retry delay after a failed attempt
	// n: a random duration in [d/2, d] with d = min(RetryBase*2^(n-1),
	// RetryMax). Default to 1s and 5m.
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxBacklog caps the jobs held at each level, including jobs being
	// worked on. Enqueue beyond it fails with ErrBacklogFull. The cap is
	// per level (each level is its own stream), so a flood of low-priority
	// jobs never blocks a high-priority enqueue. A scheduled job (WithDelay,
	// WithAt, Snooze, a recurring schedule) counts from its due time: it
	// is never refused, and one that falls due while its level is full
	// waits in the schedule stream until there is room. 0 (the default)
	// means unlimited.
	MaxBacklog int64
	// MaxPayload caps one job's payload in bytes. Defaults to 1 MiB; at
	// most 64 MiB. The whole message (payload and headers) must also fit
	// the connected server's max_payload less 1 KiB kept for dead-letter
	// headers: the embedded server accepts 64 MiB, an external server
	// what its max_payload says (1 MiB by default, so a default queue on
	// it takes payloads up to about 1 MiB less 1 KiB and the headers). An
	// explicit MaxPayload that cannot fit is refused by Queue and
	// UpdateQueue; every oversize enqueue fails with ErrPayloadTooLarge.
	MaxPayload int
	// MaxResult caps Job.SetResult in bytes. Defaults to 64 KiB.
	MaxResult int
	// Replicas is the stream replication factor (1, 3 or 5 on a
	// cluster). Defaults to 1.
	Replicas int
	// DuplicateWindow is how long an enqueue's message ID is remembered
	// for dedupe. Defaults to 2m.
	DuplicateWindow time.Duration
	// TrackStatus keeps each job's state in a KV bucket for JobStatus.
	// Defaults to off: it costs one extra asynchronous write per enqueue
	// and two per attempt (no extra round trip, but three stored writes per
	// job instead of one: consume throughput about halves in
	// BenchmarkThroughputTracked). Reply subjects work without it.
	TrackStatus bool
	// StatusTTL is how long a job status is kept. Defaults to 24h.
	StatusTTL time.Duration
	// DeadLetterMaxAge drops dead letters older than this. Defaults to 0:
	// kept until re-queued or purged.
	DeadLetterMaxAge time.Duration
	// Fairness serves the keys of a level in turn (jobs enqueued WithKey),
	// so a flood of jobs from one key cannot starve the others: each key
	// with jobs gets a consumer of its own, and workers take one request
	// from each key in turn. It costs a consumer per key with jobs and
	// CPU per job (about 1.7 times with ten keys busy; see the package
	// doc); without it WithKey is refused. Defaults to off.
	Fairness bool
	// FleetConcurrency caps the jobs of this queue running at once across
	// every worker of every instance (a third-party API that allows ten
	// calls at a time); 0 (the default) means no cap beyond each worker's
	// Concurrency. It is kept by the server, as that many tokens a worker
	// must hold to run a job (see the package doc); at most 10,000.
	FleetConcurrency int
	// FleetRateLimit caps the jobs of this queue started per second across
	// every worker of every instance: at most FleetRateBurst jobs start
	// in any window of FleetRateBurst/FleetRateLimit seconds. 0 (the
	// default) means no fleet-wide rate limit (WorkerOptions.RateLimit
	// caps one worker). Kept by the server as FleetRateBurst tokens, each
	// spent when a job starts and back one window later (see the package
	// doc); at most 1,000,000 per second.
	FleetRateLimit float64
	// FleetRateBurst is how many jobs may start at once under
	// FleetRateLimit. Defaults to the rate rounded up (a second's worth),
	// at least 1; at most 10,000. Only with FleetRateLimit.
	FleetRateBurst int
	// MaxSnoozes bounds how many times one job may snooze (a handler
	// returning Snooze): the snooze after the last allowed one
	// dead-letters the job, so a job cannot snooze for ever unnoticed.
	// Defaults to 100; at most 1,000,000.
	MaxSnoozes int
}

func (c Config) withDefaults() (Config, error) {
	if c.Levels == 0 {
		c.Levels = 3
	}
	if c.Levels < 1 || c.Levels > 16 {
		return c, fmt.Errorf("%w: Levels %d: want 1..16", ErrBadConfig, c.Levels)
	}
	if !c.UseDefaultPriority && c.DefaultPriority == 0 {
		c.DefaultPriority = Priority((c.Levels - 1) / 2)
	}
	if c.DefaultPriority < 0 || int(c.DefaultPriority) >= c.Levels {
		return c, fmt.Errorf("%w: DefaultPriority %d: want 0..%d", ErrBadConfig, c.DefaultPriority, c.Levels-1)
	}
	def := func(d *time.Duration, v time.Duration, name string) error {
		if *d == 0 {
			*d = v
		}
		if *d < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrBadConfig, name, *d)
		}
		return nil
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if c.MaxDeliver < 1 {
		return c, fmt.Errorf("%w: MaxDeliver %d: want at least 1", ErrBadConfig, c.MaxDeliver)
	}
	for _, e := range []error{
		def(&c.AckWait, 30*time.Second, "AckWait"),
		def(&c.RetryBase, time.Second, "RetryBase"),
		def(&c.RetryMax, 5*time.Minute, "RetryMax"),
		def(&c.DuplicateWindow, 2*time.Minute, "DuplicateWindow"),
		def(&c.StatusTTL, 24*time.Hour, "StatusTTL"),
	} {
		if e != nil {
			return c, e
		}
	}
	if c.DeadLetterMaxAge < 0 {
		return c, fmt.Errorf("%w: DeadLetterMaxAge %v is negative", ErrBadConfig, c.DeadLetterMaxAge)
	}
	if c.AckWait < 100*time.Millisecond {
		return c, fmt.Errorf("%w: AckWait %v: want at least 100ms", ErrBadConfig, c.AckWait)
	}
	if c.RetryMax < c.RetryBase {
		return c, fmt.Errorf("%w: RetryMax %v is below RetryBase %v", ErrBadConfig, c.RetryMax, c.RetryBase)
	}
	if c.MaxBacklog < 0 {
		return c, fmt.Errorf("%w: MaxBacklog %d is negative", ErrBadConfig, c.MaxBacklog)
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = 1 << 20
	}
	if c.MaxPayload < 0 || c.MaxPayload > 64<<20 {
		return c, fmt.Errorf("%w: MaxPayload %d: want 1..64 MiB", ErrBadConfig, c.MaxPayload)
	}
	if c.MaxResult == 0 {
		c.MaxResult = defaultMaxResult
	}
	if c.MaxResult < 0 {
		return c, fmt.Errorf("%w: MaxResult %d is negative", ErrBadConfig, c.MaxResult)
	}
	if c.FleetConcurrency < 0 || c.FleetConcurrency > 10000 {
		return c, fmt.Errorf("%w: FleetConcurrency %d: want 0 (no cap) to 10000", ErrBadConfig, c.FleetConcurrency)
	}
	switch {
	case c.FleetRateLimit < 0 || c.FleetRateLimit > 1e6 || math.IsNaN(c.FleetRateLimit):
		return c, fmt.Errorf("%w: FleetRateLimit %v: want 0 (no limit) to 1000000 per second", ErrBadConfig, c.FleetRateLimit)
	case c.FleetRateLimit == 0 && c.FleetRateBurst != 0:
		return c, fmt.Errorf("%w: FleetRateBurst %d without a FleetRateLimit", ErrBadConfig, c.FleetRateBurst)
	case c.FleetRateLimit > 0 && c.FleetRateBurst == 0:
		c.FleetRateBurst = max(1, int(math.Ceil(c.FleetRateLimit)))
	}
	if c.FleetRateBurst < 0 || c.FleetRateBurst > 10000 {
		return c, fmt.Errorf("%w: FleetRateBurst %d: want 1..10000", ErrBadConfig, c.FleetRateBurst)
	}
	if c.MaxSnoozes == 0 {
		c.MaxSnoozes = 100
	}
	if c.MaxSnoozes < 1 || c.MaxSnoozes > 1_000_000 {
		return c, fmt.Errorf("%w: MaxSnoozes %d: want 1..1000000", ErrBadConfig, c.MaxSnoozes)
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("%w: Replicas %d: want 1..5", ErrBadConfig, c.Replicas)
	}
	return c, nil
}

// backoff returns the retry delay after failed attempt n (1-based).
func (c *Config) backoff(n int, rnd func(int64) int64) time.Duration {
	d := c.RetryBase
	for i := 1; i < n && d < c.RetryMax; i++ {
		d *= 2
	}
	d = min(d, c.RetryMax)
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	return time.Duration(half + rnd(half+1))
}
