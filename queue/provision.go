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

// createOrBindStream creates the stream, or returns it as it is when it
// exists, whatever its config: opening a queue changes nothing that exists
// (a create with an identical config is a no-op on the server).
func createOrBindStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, cfg.Name)
	}
	return s, err
}

// createOrBindConsumer is createOrBindStream for a durable consumer.
func createOrBindConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.CreateConsumer(ctx, stream, cfg)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return js.Consumer(ctx, stream, cfg.Durable)
	}
	return c, err
}

// createOrBindKV is createOrBindStream for a KV bucket.
func createOrBindKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, cfg.Bucket)
	}
	return kv, err
}
