package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-retry"
)

// provisionTimeout bounds one stream/consumer/bucket management request.
// On a cluster, a request that races another client creating the same
// replicated stream can go unanswered although the stream was created
// (nats-server #3677, nats.go #949); without a bound per request it would
// wait for the caller's whole deadline.
const provisionTimeout = 5 * time.Second

// provision runs one management request with its own timeout, retrying a
// timed-out request (idempotent: every request here is a create-or-update)
// with a short backoff while ctx lives.
func provision(ctx context.Context, fn func(ctx context.Context) error) error {
	b := retry.WithMaxRetries(5, retry.WithJitterPercent(20, retry.NewExponential(50*time.Millisecond)))
	return retry.Do(ctx, b, func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, provisionTimeout)
		defer cancel()
		err := fn(rctx)
		if err != nil && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return retry.RetryableError(fmt.Errorf("no answer within %v: %w", provisionTimeout, err))
		}
		return err
	})
}

// ensureStream creates the stream, and updates it only when it exists with
// a different config. nats.go's CreateOrUpdateStream updates first, so every
// instance start rewrote the stream's config even when nothing changed; in
// nats-server 2.15 that update races with a concurrent consumer creation
// (the race detector catches it when several workers start together). A
// create with an identical config is a no-op on the server.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.UpdateStream(ctx, cfg)
	}
	return s, err
}

// ensureKV is ensureStream for a KV bucket.
func ensureKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.UpdateKeyValue(ctx, cfg)
	}
	return kv, err
}

// checkOldLayout refuses, with a clear error, a queue whose jobs sit in the
// single stream of cloudrole's first layout (CRQ_<name> holding every
// level): its subjects would overlap the per-level streams. Any other
// failure to look is left to the creates that follow, which report it.
func (c *Client) checkOldLayout(ctx context.Context, name string) error {
	var s jetstream.Stream
	err := provision(ctx, func(ctx context.Context) (err error) {
		s, err = c.js.Stream(ctx, oldStreamName(name))
		return err
	})
	if err != nil {
		return nil
	}
	for _, subj := range s.CachedInfo().Config.Subjects {
		if subj == levelSubject(name, 0) {
			return fmt.Errorf("queue %q: stream %s holds this queue's jobs in the single-stream layout of an earlier cloudrole; this version keeps one stream per level: let a worker of the earlier version drain it, then delete it (nats stream rm %s)",
				name, oldStreamName(name), oldStreamName(name))
		}
	}
	return nil
}
