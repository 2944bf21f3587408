package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rawStream opens a WorkQueue stream like the one cloudrole makes for a
// queue level, for the raw nats.go baseline.
func rawStream(ctx context.Context, url string) (*nats.Conn, jetstream.JetStream, error) {
	return rawStreamR(ctx, url, 1)
}

// rawStreamR is rawStream with the given replicas.
func rawStreamR(ctx context.Context, url string, replicas int) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.jobs"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: replicas})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func rawPublishAsync(ctx context.Context, js jetstream.JetStream, n int) error {
	for i := range n {
		if _, err := js.PublishAsync("raw.jobs", payload(time.Now())); err != nil {
			return fmt.Errorf("publish %d: %w", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rawConsumer is the durable pull consumer the raw baselines consume with.
func rawConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return js.CreateOrUpdateConsumer(ctx, "RAW", jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
}

// rawAckN consumes with cons at Consume's defaults, acking each job; wait
// returns once n were acked (or with an error when ctx ends first), stop
// ends the Consume.
func rawAckN(cons jetstream.Consumer, n int) (wait func(context.Context) error, stop func(), err error) {
	var count atomic.Int64
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		m.Ack()
		if count.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	wait = func(ctx context.Context) error {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("consumed %d of %d", count.Load(), n)
		}
	}
	return wait, cc.Stop, nil
}

// rawThroughput: publish n jobs, then Consume-and-ack them with a durable
// pull consumer at its defaults; jobs per second until the stream is empty.
func rawThroughput(url string, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nc, js, err := rawStream(ctx, url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	// Publish in windows of 1000 (the client's async window is 4000), as
	// cloudrole's batches do.
	for done := 0; done < n; done += 1000 {
		if err := rawPublishAsync(ctx, js, min(1000, n-done)); err != nil {
			return 0, err
		}
	}
	cons, err := rawConsumer(ctx, js)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	wait, stop, err := rawAckN(cons, n)
	if err != nil {
		return 0, err
	}
	defer stop()
	if err := wait(ctx); err != nil {
		return 0, err
	}
	if err := waitEmpty(ctx, url, "RAW"); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// rawEnqueueRate: sync Publish one by one, or PublishAsync then wait.
func rawEnqueueRate(url string, n int, batch bool) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nc, js, err := rawStream(ctx, url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	// A queue has its consumer before jobs come in (cloudrole's levels
	// have theirs from the declaration); the server signals it on every
	// store, so raw's stream gets one too.
	if _, err := js.CreateConsumer(ctx, "RAW", jetstream.ConsumerConfig{Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		return 0, err
	}
	start := time.Now()
	if batch {
		// The same 1000-message windows cloudrole's batches use.
		for done := 0; done < n; done += 1000 {
			if err := rawPublishAsync(ctx, js, min(1000, n-done)); err != nil {
				return 0, err
			}
		}
	} else {
		for range n {
			if _, err := js.Publish(ctx, "raw.jobs", payload(time.Now())); err != nil {
				return 0, err
			}
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// rawEndToEnd: one producer publishes n jobs in PublishAsync windows of
// 1000 while a durable pull consumer's Consume acks them; jobs per second
// from the first publish until the stream is empty.
func rawEndToEnd(url string, n, replicas int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nc, js, err := rawStreamR(ctx, url, replicas)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	cons, err := rawConsumer(ctx, js)
	if err != nil {
		return 0, err
	}
	wait, stop, err := rawAckN(cons, n)
	if err != nil {
		return 0, err
	}
	defer stop()
	start := time.Now()
	for sent := 0; sent < n; sent += 1000 {
		if err := rawPublishAsync(ctx, js, min(1000, n-sent)); err != nil {
			return 0, err
		}
	}
	if err := wait(ctx); err != nil {
		return 0, err
	}
	if err := waitEmpty(ctx, url, "RAW"); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// rawFill stores n jobs and creates the durable consumer that worker
// processes share, allowed maxAck unacknowledged jobs in all.
func rawFill(url string, n, maxAck int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nc, js, err := rawStream(ctx, url)
	if err != nil {
		return err
	}
	defer nc.Close()
	for sent := 0; sent < n; sent += 1000 {
		if err := rawPublishAsync(ctx, js, min(1000, n-sent)); err != nil {
			return err
		}
	}
	_, err = js.CreateOrUpdateConsumer(ctx, "RAW", jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Minute, MaxAckPending: maxAck})
	return err
}
