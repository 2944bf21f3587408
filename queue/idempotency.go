package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Defaults for Idempotency.
const (
	DefaultIdempotencyBucket = "cloudrole_idempotency"
	// DefaultIdempotencyTTL is how long a done key is remembered.
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultClaimTimeout is how long a crashed runner's claim blocks
	// others before it may be taken over.
	DefaultClaimTimeout = time.Minute
)

var (
	// ErrInProgress is wrapped by Idempotency.Do when another live runner
	// holds the key's claim. Return it from a handler: the queue retries
	// the job with backoff, by when the other run has finished (the retry
	// then skips) or failed (the retry runs).
	ErrInProgress = errors.New("queue: idempotency key is being run elsewhere")
	// ErrClaimLost is the cancellation cause of fn's context when Do could
	// not keep its claim alive (it expired, or the server was out of reach
	// for a whole claim timeout): another runner may start the same work,
	// so fn should stop.
	ErrClaimLost = errors.New("queue: idempotency claim lost")
)

// IdempotencyOptions configure Idempotency.
type IdempotencyOptions struct {
	// Bucket is the KV bucket holding keys. Defaults to
	// DefaultIdempotencyBucket.
	Bucket string
	// TTL is how long a key is remembered as done, so a duplicate arriving
	// within it is skipped. Defaults to DefaultIdempotencyTTL. Rounded up
	// to whole seconds.
	TTL time.Duration
	// Replicas is the bucket's replica count on a cluster (default 1).
	Replicas int
	// ClaimTimeout is how long a claim lives without its runner renewing
	// it; a live runner renews at a third of it, so only a crashed runner's
	// claim expires, after which another runner may take the key over.
	// Defaults to DefaultClaimTimeout; at least one second.
	ClaimTimeout time.Duration
	// Owner names this runner in ErrInProgress errors. Defaults to
	// hostname:pid.
	Owner string
}

// Idempotency runs a piece of work at most once per key across all
// instances, for effects that must not repeat when a job is delivered
// again (beyond the enqueue duplicate window). Safe for concurrent use.
//
// Do claims the key, runs fn, and records the key as done. The claim and
// the done record are KV keys with server-side TTLs, so nothing depends on
// the instances' clocks. One window is inherent: if the runner dies after
// fn's effect happened but before "done" is recorded, the claim expires and
// the work runs again. Make fn's effect itself idempotent where that
// matters (an upsert, a conditional write, a request ID the other side
// deduplicates), or keep the window small by doing nothing slow after the
// effect.
type Idempotency struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	bucket  string
	ttl     time.Duration
	claim   time.Duration
	owner   string
	renewal time.Duration
	commit  *committer // the embedded store's group commit (Client.Idempotency); nil: the server's ack suffices
}

// NewIdempotency creates (or updates) the bucket and returns an
// Idempotency on it. Errors wrap ErrBadName for a bad bucket name,
// ErrBadOptions for a negative TTL, Replicas or ClaimTimeout, or the
// server's error.
func NewIdempotency(ctx context.Context, js jetstream.JetStream, opts IdempotencyOptions) (*Idempotency, error) {
	if opts.Bucket == "" {
		opts.Bucket = DefaultIdempotencyBucket
	}
	if opts.TTL < 0 || opts.ClaimTimeout < 0 {
		return nil, fmt.Errorf("idempotency: %w: TTL %v and ClaimTimeout %v may not be negative", ErrBadOptions, opts.TTL, opts.ClaimTimeout)
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultIdempotencyTTL
	}
	if opts.ClaimTimeout == 0 {
		opts.ClaimTimeout = DefaultClaimTimeout
	}
	if opts.Owner == "" {
		host, _ := os.Hostname()
		opts.Owner = host + ":" + strconv.Itoa(os.Getpid())
	}
	kv, err := openBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:      opts.Bucket,
		Description: "cloudrole idempotency keys",
		Replicas:    opts.Replicas,
	}, true)
	if err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	claim := keyTTL(opts.ClaimTimeout)
	return &Idempotency{
		js: js, kv: kv, bucket: opts.Bucket,
		ttl: keyTTL(opts.TTL), claim: claim, owner: opts.Owner,
		renewal: claim / 3,
	}, nil
}

// Idempotency returns an Idempotency on this client's connection; see
// NewIdempotency.
//
// On the embedded server under sync "always" Do returns once its "done"
// record is on disk (the group commit), as an Enqueue does; NewIdempotency
// on a JetStream of your own relies on the server's acknowledgement.
func (c *Client) Idempotency(ctx context.Context, opts IdempotencyOptions) (*Idempotency, error) {
	id, err := NewIdempotency(ctx, c.js, opts)
	if err != nil {
		return nil, err
	}
	id.commit = c.commit
	return id, nil
}

// Claim states stored in a key.
const (
	idemRunning = "running"
	idemDone    = "done"
)

type idemValue struct {
	State string    `json:"state"`
	Owner string    `json:"owner"`
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
}

// claimTries bounds Do's retries when a key expires between a failed
// create and the read that tells done from running.
const claimTries = 3

// Do runs fn once for key across every instance using the bucket:
//
//   - key never seen (or its claim expired with a crashed runner): Do
//     claims it, runs fn, records it as done for TTL and returns true and
//     nil;
//   - key done within TTL: Do returns false, nil without running fn;
//   - key claimed by a live runner: Do returns false and an error wrapping
//     ErrInProgress naming that runner;
//   - fn returns an error (or panics): Do gives the claim up so a retry
//     runs fn again, and returns true and fn's error (or re-panics).
//
// While fn runs, Do renews the claim at a third of ClaimTimeout; if it
// cannot, fn's context is cancelled with a cause wrapping ErrClaimLost. If
// fn succeeded but recording "done" failed, Do returns true and that error:
// the claim then expires and a retry runs fn again. Do blocks until fn
// returns. Errors also wrap ErrBadKey for a key that cannot be a KV key.
func (id *Idempotency) Do(ctx context.Context, key string, fn func(context.Context) error) (ran bool, err error) {
	if err := validateKey("idempotency key", key); err != nil {
		return false, err
	}
	mine := idemValue{State: idemRunning, Owner: id.owner, ID: nuid.Next(), At: time.Now().UTC()}
	claim, err := json.Marshal(mine)
	if err != nil {
		return false, err
	}
	rev, err := id.claimKey(ctx, key, claim)
	if rev == 0 {
		return false, err
	}

	fctx, cancel := context.WithCancelCause(ctx)
	hb := id.startHeartbeat(ctx, cancel, key, claim, rev)
	finished := false
	defer func() {
		cancel(nil)
		if !finished { // fn panicked: free the key for a retry, then re-panic
			rev := hb.stop()
			id.release(key, rev)
		}
	}()
	ferr := fn(fctx)
	finished = true
	rev = hb.stop()
	if ferr != nil {
		id.release(key, rev)
		return true, ferr
	}

	mine.State, mine.At = idemDone, time.Now().UTC()
	done, err := json.Marshal(mine)
	if err != nil {
		return true, err
	}
	// Record "done" even if ctx ended with fn: the effect happened.
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer dcancel()
	if _, err := casPut(dctx, id.js, id.bucket, key, done, rev, id.ttl); err != nil {
		return true, fmt.Errorf("queue: idempotency key %q: ran, but recording it as done failed (a retry will run it again): %w", key, err)
	}
	if err := id.commit.wait(dctx); err != nil {
		return true, fmt.Errorf("queue: idempotency key %q: ran and recorded as done, but the record is not confirmed on disk (after a machine crash a retry may run it again): %w", key, err)
	}
	return true, nil
}

// claimKey creates the key as running. It returns the claim's revision, or
// 0 and either nil (the key is done) or an error.
func (id *Idempotency) claimKey(ctx context.Context, key string, claim []byte) (uint64, error) {
	for range claimTries {
		rev, err := id.kv.Create(ctx, key, claim, jetstream.KeyTTL(id.claim))
		if err == nil {
			return rev, nil
		}
		if !isKeyExists(err) {
			return 0, fmt.Errorf("queue: idempotency key %q: claim: %w", key, err)
		}
		e, err := id.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released or expired just now
		}
		if err != nil {
			return 0, fmt.Errorf("queue: idempotency key %q: read: %w", key, err)
		}
		var cur idemValue
		if err := json.Unmarshal(e.Value(), &cur); err != nil {
			return 0, fmt.Errorf("queue: idempotency key %q: stored value is not a claim: %w", key, err)
		}
		if cur.State == idemDone {
			return 0, nil
		}
		return 0, fmt.Errorf("queue: idempotency key %q: claimed by %q since %s: %w",
			key, cur.Owner, cur.At.Format(time.RFC3339), ErrInProgress)
	}
	return 0, fmt.Errorf("queue: idempotency key %q: changing hands too fast to claim: %w", key, ErrInProgress)
}

// release deletes the claim at rev so a retry may run at once; if that
// fails the claim simply expires after ClaimTimeout.
func (id *Idempotency) release(key string, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = id.kv.Purge(ctx, key, jetstream.LastRevision(rev), jetstream.PurgeTTL(markerTTL))
}

// heartbeat renews a claim while fn runs. Its goroutine is owned by Do,
// which waits for it in stop.
type heartbeat struct {
	id     *Idempotency
	key    string
	claim  []byte
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu   sync.Mutex
	rev  uint64
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func (id *Idempotency) startHeartbeat(ctx context.Context, cancel context.CancelCauseFunc, key string, claim []byte, rev uint64) *heartbeat {
	h := &heartbeat{id: id, key: key, claim: claim, ctx: ctx, cancel: cancel, rev: rev,
		quit: make(chan struct{}), done: make(chan struct{})}
	h.run()
	return h
}

func (h *heartbeat) run() {
	go func() {
		defer close(h.done)
		t := time.NewTicker(h.id.renewal)
		defer t.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-h.quit:
				return
			case <-t.C:
			}
			h.mu.Lock()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), h.id.renewal)
			rev, err := casPut(rctx, h.id.js, h.id.bucket, h.key, h.claim, h.rev, h.id.claim)
			cancel()
			if err == nil {
				h.rev, lastOK = rev, time.Now()
			}
			h.mu.Unlock()
			switch {
			case err == nil:
			case isRevisionConflict(err):
				h.cancel(fmt.Errorf("queue: idempotency key %q: claim expired or taken over: %w", h.key, ErrClaimLost))
				return
			case time.Since(lastOK) >= h.id.claim:
				h.cancel(fmt.Errorf("queue: idempotency key %q: claim not renewed for %v (%v): %w", h.key, h.id.claim, err, ErrClaimLost))
				return
			}
		}
	}()
}

// stop ends the heartbeat, waits for its goroutine and returns the claim's
// latest revision.
func (h *heartbeat) stop() uint64 {
	h.once.Do(func() { close(h.quit) })
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rev
}
