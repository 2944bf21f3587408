package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
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
