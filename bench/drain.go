package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// waitEmpty returns once the WorkQueue stream holds no messages, that is
// once the server has applied every ack. Throughput rows stop their clock
// here rather than when the last handler ran: acks are fire-and-forget
// publishes, and a consumer that may hold unlimited unacked jobs (as
// cloudrole's may) can otherwise finish "consuming" long before the
// server has processed its acks — with fsync on every write, by a factor
// of twenty.
func waitEmpty(ctx context.Context, url, stream string) error {
	return waitAtMost(ctx, url, stream, 0)
}

// waitAtMost returns once the stream holds at most left messages: in a
// WorkQueue stream, once the server has applied the acks of all others.
func waitAtMost(ctx context.Context, url, stream string, left uint64) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := s.Info(ctx)
		if err != nil {
			return fmt.Errorf("stream %s: %w", stream, err)
		}
		if info.State.Msgs <= left {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("stream %s still holds %d messages: %w", stream, info.State.Msgs, ctx.Err())
		}
	}
}
