package queue

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

var (
	// ErrNoProvider is wrapped by Connect when the context carries no
	// Provider (the host did not put one there).
	ErrNoProvider = errors.New("queue: no provider in context: pass queue.Connect the context the host gave your hook (OnStart, Run or OnStop), or one derived from it, not context.Background()")
	// ErrClosed is wrapped by calls on a closed Provider.
	ErrClosed = errors.New("queue: provider closed")
	// ErrBadOptions is wrapped by NewProvider when Options are invalid.
	ErrBadOptions = errors.New("queue: bad options")
	// ErrBadName is wrapped when a queue name is not usable.
	ErrBadName = errors.New("queue: bad queue name")
	// ErrBadConfig is wrapped when a queue Config is invalid.
	ErrBadConfig = errors.New("queue: bad queue config")
	// ErrBadPriority is wrapped when an enqueue names a priority level the
	// queue does not have.
	ErrBadPriority = errors.New("queue: unknown priority")
	// ErrBadID is wrapped when a job ID is not usable.
	ErrBadID = errors.New("queue: bad job id")
	// ErrPayloadTooLarge is wrapped when a payload exceeds Config.MaxPayload,
	// or the job's message (payload and headers) does not fit the server's
	// max_payload with room for its dead-letter headers; nothing was
	// published.
	ErrPayloadTooLarge = errors.New("queue: payload too large")
	// ErrBacklogFull is wrapped when a queue holds Config.MaxBacklog jobs;
	// nothing was published.
	ErrBacklogFull = errors.New("queue: backlog full")
	// ErrResultTooLarge is returned by Job.SetResult for a result larger
	// than Config.MaxResult.
	ErrResultTooLarge = errors.New("queue: result too large")
	// ErrNotFound is wrapped when a job status or dead letter does not exist.
	ErrNotFound = errors.New("queue: not found")
	// ErrStatusOff is wrapped by JobStatus on a queue without TrackStatus.
	ErrStatusOff = errors.New("queue: status tracking is off for this queue")
	// ErrDraining is the cancellation cause of a handler's context when
	// the worker's drain timeout ran out.
	ErrDraining = errors.New("queue: worker drain timeout")
	// ErrStoreLocked is wrapped when another process (or another Provider
	// of this process) holds the embedded server's store; the error names
	// the directory and the holder. See Provider.LockStore.
	ErrStoreLocked = errors.New("queue: embedded store in use")
	// ErrNoEmbeddedServer is wrapped by EmbeddedURL when no running
	// embedded server serves the store.
	ErrNoEmbeddedServer = errors.New("queue: no running embedded server")
	// ErrConfigMismatch is wrapped (by a *ConfigMismatchError) when
	// Client.Queue declares settings that differ from the stored ones;
	// nothing was changed.
	ErrConfigMismatch = errors.New("queue: config differs from the stored one")
	// ErrStrandedJobs is wrapped when jobs sit at a level the queue does
	// not have (or would not have after UpdateQueue), where no worker reads
	// them; nothing was changed.
	ErrStrandedJobs = errors.New("queue: jobs at a level the queue does not have")
	// ErrBadSchedule is wrapped when a job's due time (WithDelay,
	// WithAt) or a recurring schedule is not usable; nothing was stored.
	ErrBadSchedule = errors.New("queue: bad schedule")
	// ErrCancelled is the cancellation cause of a handler's context when
	// its job was cancelled (Queue.Cancel).
	ErrCancelled = errors.New("queue: job cancelled")
	// ErrAlreadyCancelled is wrapped by Cancel for a job cancelled before.
	ErrAlreadyCancelled = errors.New("queue: job already cancelled")
	// ErrFinished is wrapped by Cancel for a job that has already
	// succeeded or been dead-lettered.
	ErrFinished = errors.New("queue: job already finished")
)

// orClosed makes an error of a request on a closed connection match
// ErrClosed as well as the client's own error.
func orClosed(err error) error {
	if errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w (%w)", ErrClosed, err)
	}
	return err
}

// PermanentError marks a handler error that must not be retried: the job
// goes to the dead-letter stream at once.
type PermanentError struct{ Err error }

// Error returns the wrapped error's text prefixed with "permanent: ".
func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the worker dead-letters the job at once
// instead of retrying it. It is detected with errors.As, so it may be
// wrapped further. Permanent(nil) returns nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is or wraps a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// PanicError is the error a handler panic turns into. The job is retried
// like any other failure.
type PanicError struct {
	Value any
	Stack []byte
}

// Error names the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("handler panic: %v", e.Value) }

// Errors of a cluster failing over. They are wrapped together with the
// nats.go or server error that caused them, so errors.Is finds both (for
// example ErrNoLeader and jetstream.ErrNoStreamResponse).
var (
	// ErrNoLeader is wrapped by Provider.Check and by an enqueue when no
	// server leads one of the queue's streams (or its consumer): the
	// leader is down and no other has been elected yet, because the
	// cluster lost quorum or an election is under way. It clears by
	// itself once a leader is elected; an enqueue that wraps it stored
	// nothing.
	ErrNoLeader = errors.New("queue: no stream leader")
	// ErrNotConfirmed is wrapped by an enqueue whose acknowledgement did
	// not arrive within its deadline (the caller's, or nats.go's 5 s
	// default when the context has none): the job may or may not be
	// stored. Retrying with the same WithID is safe within the queue's
	// DuplicateWindow (it is stored once); without WithID a retry may store
	// a second copy.
	ErrNotConfirmed = errors.New("queue: enqueue not confirmed")
	// ErrDuplicateInProgress is wrapped by an enqueue refused because an
	// earlier publish with the same ID is still being stored (replicated)
	// on the stream, typically a timed-out attempt while the stream had
	// no quorum. This publish stored nothing; retrying with the same ID
	// is safe: it is deduplicated if the earlier one was stored.
	ErrDuplicateInProgress = errors.New("queue: a publish with the same ID is still being stored")
)
