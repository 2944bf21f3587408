package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultCheckpointBucket is the KV bucket Checkpoints use unless told
// otherwise.
const DefaultCheckpointBucket = "cloudrole_checkpoints"

// DefaultCheckpointMaxSize bounds one checkpoint unless told otherwise. It
// stays well inside NATS's default 1 MiB message limit.
const DefaultCheckpointMaxSize = 256 << 10

var (
	// ErrCheckpointConflict is wrapped by Checkpoints.Save when the stored
	// checkpoint is not at the revision the caller read: another run of the
	// job saved (or deleted) it meanwhile. Nothing was written; reload.
	ErrCheckpointConflict = errors.New("queue: checkpoint changed since it was read")
	// ErrCheckpointTooLarge is wrapped by Checkpoints.Save for data larger
	// than CheckpointOptions.MaxSize. Nothing was written.
	ErrCheckpointTooLarge = errors.New("queue: checkpoint too large")
)

// maxSizeSlack lets the server's size limit, which also counts a
// message's headers, admit data of exactly MaxSize; Save checks MaxSize
// itself.
const maxSizeSlack = 1024

// CheckpointOptions configure Checkpoints.
type CheckpointOptions struct {
	// Bucket is the KV bucket holding checkpoints, one key per job ID.
	// Defaults to DefaultCheckpointBucket.
	Bucket string
	// Replicas is the bucket's replica count on a cluster (default 1).
	Replicas int
	// TTL drops a checkpoint not saved again for this long (0 keeps it
	// until deleted). Set it above the longest a job may take, retries
	// included, or a slow job restarts from scratch.
	TTL time.Duration
	// MaxSize bounds one checkpoint's data in bytes. Defaults to
	// DefaultCheckpointMaxSize; it may not exceed the server's max_payload.
	MaxSize int
}

// Checkpoints store a job's progress in a KV bucket so that a run after a
// crash resumes from the last saved point instead of from scratch. Saves
// are compare-and-set on the revision, so a stale run (one whose message
// was redelivered to another worker meanwhile) cannot overwrite newer
// progress. Safe for concurrent use.
//
// A job typically Loads at the start, skips the work its checkpoint covers,
// Saves with the revision it last got after each step, and Deletes when
// done.
type Checkpoints struct {
	kv      jetstream.KeyValue
	bucket  string
	maxSize int
	commit  *committer // the embedded store's group commit (Client.Checkpoints); nil: the server's ack suffices
}

// NewCheckpoints creates (or updates) the bucket and returns Checkpoints on
// it. Errors wrap ErrBadName for a bad bucket name, ErrBadOptions for a
// negative Replicas, TTL or MaxSize, or the server's error.
func NewCheckpoints(ctx context.Context, js jetstream.JetStream, opts CheckpointOptions) (*Checkpoints, error) {
	if opts.Bucket == "" {
		opts.Bucket = DefaultCheckpointBucket
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = DefaultCheckpointMaxSize
	}
	if opts.MaxSize < 0 || opts.MaxSize > 64<<20 {
		return nil, fmt.Errorf("checkpoints: %w: MaxSize %d; want 1 to %d bytes", ErrBadOptions, opts.MaxSize, 64<<20)
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("checkpoints: %w: TTL %v is negative", ErrBadOptions, opts.TTL)
	}
	kv, err := openBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:       opts.Bucket,
		Description:  "cloudrole job checkpoints",
		Replicas:     opts.Replicas,
		TTL:          opts.TTL,
		MaxValueSize: int32(opts.MaxSize + maxSizeSlack),
	}, true) // per-key TTLs, so Delete's marker expires too
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	return &Checkpoints{kv: kv, bucket: opts.Bucket, maxSize: opts.MaxSize}, nil
}

// Checkpoints returns Checkpoints on this client's connection; see
// NewCheckpoints.
//
// On the embedded server under sync "always" a Save returns once the
// checkpoint is on disk (the group commit), as an Enqueue does;
// NewCheckpoints on a JetStream of your own relies on the server's
// acknowledgement.
func (c *Client) Checkpoints(ctx context.Context, opts CheckpointOptions) (*Checkpoints, error) {
	cp, err := NewCheckpoints(ctx, c.js, opts)
	if err != nil {
		return nil, err
	}
	cp.commit = c.commit
	return cp, nil
}

// Load returns job jobID's last saved checkpoint and its revision (pass it
// to the next Save). A job with none returns nil, 0, nil. Errors wrap
// ErrBadKey for a job ID that cannot be a KV key, or the server's error.
func (cp *Checkpoints) Load(ctx context.Context, jobID string) (data []byte, rev uint64, err error) {
	if err := validateKey("job id", jobID); err != nil {
		return nil, 0, err
	}
	e, err := cp.kv.Get(ctx, jobID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("queue: checkpoint of job %q: load: %w", jobID, err)
	}
	return e.Value(), e.Revision(), nil
}

// Save stores data as job jobID's checkpoint if the stored one is still at
// rev (0: there is none yet) and returns the new revision. Errors wrap
// ErrCheckpointConflict when another save or a delete came first,
// ErrCheckpointTooLarge, ErrBadKey, or the server's error; nothing was
// written then. A save whose answer timed out may still have landed: the
// next Save then reports a conflict, and a Load shows which.
func (cp *Checkpoints) Save(ctx context.Context, jobID string, data []byte, rev uint64) (uint64, error) {
	if err := validateKey("job id", jobID); err != nil {
		return 0, err
	}
	if len(data) > cp.maxSize {
		return 0, fmt.Errorf("queue: checkpoint of job %q: %d bytes, at most %d: %w", jobID, len(data), cp.maxSize, ErrCheckpointTooLarge)
	}
	var (
		nrev uint64
		err  error
	)
	if rev == 0 {
		nrev, err = cp.kv.Create(ctx, jobID, data)
		if err != nil && isKeyExists(err) {
			return 0, fmt.Errorf("queue: checkpoint of job %q: one was saved already: %w", jobID, ErrCheckpointConflict)
		}
	} else {
		nrev, err = cp.kv.Update(ctx, jobID, data, rev)
		if err != nil && isRevisionConflict(err) {
			return 0, fmt.Errorf("queue: checkpoint of job %q: not at revision %d any more: %w", jobID, rev, ErrCheckpointConflict)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("queue: checkpoint of job %q: save: %w", jobID, err)
	}
	if err := cp.commit.wait(ctx); err != nil {
		return 0, fmt.Errorf("queue: checkpoint of job %q: saved at revision %d but not confirmed on disk: %w", jobID, nrev, err)
	}
	return nrev, nil
}

// Delete removes job jobID's checkpoint, whatever its revision; deleting a
// missing one is not an error. Errors wrap ErrBadKey or the server's error.
func (cp *Checkpoints) Delete(ctx context.Context, jobID string) error {
	if err := validateKey("job id", jobID); err != nil {
		return err
	}
	// The purge marker expires after markerTTL, so finished jobs leave
	// nothing behind.
	if err := cp.kv.Purge(ctx, jobID, jetstream.PurgeTTL(markerTTL)); err != nil {
		return fmt.Errorf("queue: checkpoint of job %q: delete: %w", jobID, err)
	}
	return nil
}
