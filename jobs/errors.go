package jobs

import "errors"

// Errors of the client, the runner and definitions. Each is wrapped with
// what went wrong (the job, the run, the field), so test them with
// errors.Is.
var (
	// ErrUnknownJob is wrapped by Start when no running instance defines
	// the job (its definition record is absent or expired), and by a
	// runner asked about a job it does not have.
	ErrUnknownJob = errors.New("jobs: unknown job")
	// ErrNotTriggered is wrapped by Start for a continuous job: it runs by
	// itself on every instance (or, singleton, on one) and is not started
	// by hand.
	ErrNotTriggered = errors.New("jobs: not a triggered job")
	// ErrNotFound is wrapped when a run ID names no stored run: it never
	// existed, or history pruning removed it.
	ErrNotFound = errors.New("jobs: run not found")
	// ErrBadRunID is wrapped when a run ID is not of the form
	// <job>.<time>-<suffix>.
	ErrBadRunID = errors.New("jobs: bad run id")
	// ErrBadArgs is wrapped by Start for arguments a program cannot take
	// (a NUL byte, invalid UTF-8, too many or too long).
	ErrBadArgs = errors.New("jobs: bad arguments")
	// ErrAlreadyRunning is wrapped by Start for a singleton or scheduled
	// job that has a run queued or running; the error names that run.
	// Over HTTP it is 409 Conflict.
	ErrAlreadyRunning = errors.New("jobs: a run of this job is already queued or running")
	// ErrTooManyQueued is wrapped by Start when the job already has
	// MaxQueued runs queued or running: a flood of triggers is
	// refused rather than stored without bound. Over HTTP it is 429.
	ErrTooManyQueued = errors.New("jobs: too many runs queued")
	// ErrNoStore is wrapped by NewClient with ClientOptions.NoCreate when
	// the jobs bucket or output stream does not exist on the NATS: no
	// runner there has ever had a job.
	ErrNoStore = errors.New("jobs: no jobs store on this NATS: no instance has defined a job")
	// ErrBadJob is wrapped when a job definition is invalid (Runner.Add,
	// NewRunner, a job folder); the error names the job and the field, or
	// the file and the key.
	ErrBadJob = errors.New("jobs: bad job definition")
	// ErrDuplicateJob is wrapped when a job name is defined twice in one
	// runner (in code, the config and the jobs folder together).
	ErrDuplicateJob = errors.New("jobs: job defined twice")
	// ErrNoRunner is wrapped by Add when the context carries no Runner:
	// pass the context of a hook the host called (OnStart, Run).
	ErrNoRunner = errors.New("jobs: no job runner in context: pass the context the host gave your hook (OnStart or Run)")
	// ErrRunnerStopped is wrapped when a Runner is used after Stop, and is
	// the cancel cause of the runs it stops.
	ErrRunnerStopped = errors.New("jobs: runner stopped")
	// ErrStopRequested is the cancel cause of a run's context after a
	// client's Stop.
	ErrStopRequested = errors.New("jobs: stop requested")
	// ErrJobChanged is the cancel cause of a continuous run whose job
	// definition changed or was removed (a job folder edited or deleted).
	ErrJobChanged = errors.New("jobs: job definition changed")
)
