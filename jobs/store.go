package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the NATS objects behind jobs (see the package doc's Storage).
const (
	bucket       = "cloudrole_jobs"        // KV: run records, receive cursors, definitions
	bucketStream = "KV_" + bucket          // the KV bucket's stream
	outputStream = "cloudrole_jobs_output" // one message per output line
	outputPrefix = "cloudrole.jobs.output."
	stopPrefix   = "cloudrole.jobs.stop." // core NATS: stop requests to the runner of a run
	queuePrefix  = "cloudrole-job-"       // a triggered job's queue: cloudrole-job-<name>
	lockPrefix   = "jobs."                // lease names in the queue package's lock bucket

	keyRun    = "run."    // run.<job>.<part>: the Run record
	keyCursor = "cursor." // cursor.<job>.<part>: output sequence handed over by Receive
	keyDef    = "def."    // def.<job>: a definition, kept alive by the runners that have it
)

func runKey(id string) string        { return keyRun + id }
func cursorKey(id string) string     { return keyCursor + id }
func outputSubject(id string) string { return outputPrefix + id }

// maxLine is the longest output line stored as one; a longer line is
// stored as several of this size.
const maxLine = 64 << 10

// store is the NATS side shared by Client and Runner.
type store struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	out jetstream.Stream
	// synced returns once the writes acknowledged so far are on disk
	// (queue.Client.Synced: the embedded server's group commit under
	// sync "always"). A run record and a receive cursor count as stored
	// only then, as an enqueued job does.
	synced func(context.Context) error
}

// durable waits for the group commit after a write the server
// acknowledged; what names the write in the error.
func (s *store) durable(ctx context.Context, what string) error {
	if s.synced == nil {
		return nil
	}
	if err := s.synced(ctx); err != nil {
		return fmt.Errorf("jobs: %s was stored but is not confirmed on disk: %w", what, err)
	}
	return nil
}

// openStore opens the jobs bucket and the output stream, creating what is
// absent unless noCreate (then absence is ErrNoStore). replicas applies to
// what it creates on a cluster.
func openStore(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, synced func(context.Context) error, replicas int, noCreate bool) (*store, error) {
	if replicas <= 0 {
		replicas = 1
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) && noCreate {
		return nil, fmt.Errorf("%w (KV bucket %s)", ErrNoStore, bucket)
	}
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         bucket,
			Description:    "cloudrole jobs: runs, receive cursors, definitions",
			History:        1,
			Storage:        jetstream.FileStorage,
			Replicas:       replicas,
			LimitMarkerTTL: time.Minute, // definitions expire by per-key TTL
		})
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: KV bucket %s: %w", bucket, err)
	}
	out, err := js.Stream(ctx, outputStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) && noCreate {
		return nil, fmt.Errorf("%w (stream %s)", ErrNoStore, outputStream)
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		out, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        outputStream,
			Description: "cloudrole jobs: output lines, one subject per run",
			Subjects:    []string{outputPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxMsgSize:  maxLine + lineHeader + 1024,
			AllowDirect: true,
			Duplicates:  time.Second,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: stream %s: %w", outputStream, err)
	}
	return &store{nc: nc, js: js, kv: kv, out: out, synced: synced}, nil
}

// record is a Run as stored, with its revision.
type record struct {
	Run
	rev uint64
}

// get reads a run's record. Errors wrap ErrNotFound.
func (s *store) get(ctx context.Context, id string) (record, error) {
	e, err := s.kv.Get(ctx, runKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return record{}, fmt.Errorf("jobs: read run %s: %w", id, err)
	}
	return decodeRecord(e)
}

func decodeRecord(e jetstream.KeyValueEntry) (record, error) {
	var r record
	if err := json.Unmarshal(e.Value(), &r.Run); err != nil {
		return record{}, fmt.Errorf("jobs: run record %s: %w", e.Key(), err)
	}
	r.rev = e.Revision()
	r.UpdatedAt = e.Created()
	return r, nil
}

// create stores a new record; it returns errExists if the run is stored
// already.
func (s *store) create(ctx context.Context, r Run) (record, error) {
	b, err := encodeRun(r)
	if err != nil {
		return record{}, err
	}
	rev, err := s.kv.Create(ctx, runKey(r.ID), b)
	if isConflict(err) {
		return record{}, errExists
	}
	if err != nil {
		return record{}, fmt.Errorf("jobs: store run %s: %w", r.ID, err)
	}
	if err := s.durable(ctx, "run "+r.ID); err != nil {
		return record{}, err
	}
	return record{Run: r, rev: rev}, nil
}

var errExists = errors.New("jobs: run already stored")

// update writes r over revision rev; a conflict returns errConflict.
func (s *store) update(ctx context.Context, r Run, rev uint64) (record, error) {
	b, err := encodeRun(r)
	if err != nil {
		return record{}, err
	}
	nrev, err := s.kv.Update(ctx, runKey(r.ID), b, rev)
	if err != nil {
		if isConflict(err) {
			return record{}, errConflict
		}
		return record{}, fmt.Errorf("jobs: update run %s: %w", r.ID, err)
	}
	if err := s.durable(ctx, "run "+r.ID); err != nil {
		return record{}, err
	}
	return record{Run: r, rev: nrev}, nil
}

var errConflict = errors.New("jobs: run record changed meanwhile")

// isConflict reports the server refusing a write whose expected revision
// did not match.
func isConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// modify applies change to the run's current record and writes it, again
// on conflicts. change returns false to write nothing. It returns the
// record as written (or as read, if nothing was written).
func (s *store) modify(ctx context.Context, id string, change func(r *Run) bool) (record, error) {
	for range 100 {
		cur, err := s.get(ctx, id)
		if err != nil {
			return record{}, err
		}
		next := cur.Run
		if !change(&next) {
			return cur, nil
		}
		w, err := s.update(ctx, next, cur.rev)
		if errors.Is(err, errConflict) {
			continue
		}
		return w, err
	}
	return record{}, fmt.Errorf("jobs: run %s: too many concurrent writers", id)
}

func encodeRun(r Run) ([]byte, error) {
	r.UpdatedAt, r.HasMoreData = time.Time{}, false // derived, not stored
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("jobs: encode run %s: %w", r.ID, err)
	}
	return b, nil
}

// scan calls fn with every stored record whose key matches filter (a KV
// key filter such as "run.report.*" or "run.>"), in stream order.
func (s *store) scan(ctx context.Context, filter string, fn func(record)) error {
	w, err := s.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("jobs: list %s: %w", filter, err)
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("jobs: list %s: watcher closed", filter)
			}
			if e == nil {
				return nil // the initial values are done
			}
			if r, err := decodeRecord(e); err == nil {
				fn(r)
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// purgeKey removes a key with its history and leaves no delete marker, so
// pruned runs do not accumulate tombstones in the bucket.
func (s *store) purgeKey(ctx context.Context, key string) error {
	ks, err := s.js.Stream(ctx, bucketStream)
	if err != nil {
		return err
	}
	return ks.Purge(ctx, jetstream.WithPurgeSubject("$KV."+bucket+"."+key))
}
