package queue

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Both throughput benchmarks pre-fill b.N jobs of 128 bytes (untimed) on a
// fresh embedded server, then time consuming and acknowledging all of them
// with a no-op handler: the clock stops when the stream is empty, that is
// when the server has applied every ack, not when the last handler ran
// (acks are fire-and-forget, and a consumer allowed unlimited unacked jobs
// could otherwise look faster than the server can acknowledge). Compare
// ns/op: cloudrole / raw is the ratio.

const benchPayload = 128

func prefill(b *testing.B, q *Queue, n int) {
	b.Helper()
	payload := make([]byte, benchPayload)
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		msgs := make([]Message, min(1000, n-i))
		for j := range msgs {
			msgs[j] = Message{Payload: payload}
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkThroughput(b *testing.B) {
	_, c := testClient(b)
	q := testQueue(b, c, "bench", Config{})
	prefill(b, q, b.N)
	var n atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	cpu := startCPU(b)
	stop := startWorker(b, context.Background(), q, func(context.Context, *Job) error {
		if n.Add(1) == target {
			close(done)
		}
		return nil
	}, WorkerOptions{Concurrency: 256})
	<-done
	waitEmpty(b, c.js, levelStream("bench", int(Normal)))
	cpu.stop()
	stop()
}

// waitEmpty polls until stream holds no messages.
func waitEmpty(b *testing.B, js jetstream.JetStream, stream string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		b.Fatal(err)
	}
	for {
		info, err := s.Info(ctx)
		if err != nil {
			b.Fatalf("stream %s: %v", stream, err)
		}
		if info.State.Msgs == 0 {
			return
		}
		time.Sleep(time.Millisecond) // a poll interval, not a wait for an event
	}
}

func BenchmarkRawJetStream(b *testing.B) {
	_, c := testClient(b)
	ctx := context.Background()
	js := c.js
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayload)
	for i := 0; i < b.N; i++ {
		if _, err := js.PublishAsync("raw.1", payload); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	var n atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	cpu := startCPU(b)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if n.Add(1) == target {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	<-done
	waitEmpty(b, js, "RAW")
	cpu.stop()
	cc.Stop()
	<-cc.Closed()
}

func BenchmarkEnqueueSync(b *testing.B) {
	_, c := testClient(b)
	q := testQueue(b, c, "enq", Config{})
	payload := make([]byte, benchPayload)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := q.Enqueue(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnqueueBatch(b *testing.B) {
	_, c := testClient(b)
	q := testQueue(b, c, "enqb", Config{})
	cpu := startCPU(b)
	prefill(b, q, b.N)
	cpu.stop()
}

func BenchmarkRawPublishAsync(b *testing.B) {
	_, c := testClient(b)
	ctx := context.Background()
	if _, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAWP", Subjects: []string{"rawp.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayload)
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		futs := make([]jetstream.PubAckFuture, 0, 1000)
		for j := i; j < min(i+1000, b.N); j++ {
			f, err := c.js.PublishAsync("rawp.1", payload)
			if err != nil {
				b.Fatal(err)
			}
			futs = append(futs, f)
		}
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRawPublishAsyncQueueStream is BenchmarkRawPublishAsync on a
// queue's own stream (three level subjects and consumers, the bell
// republish): it separates the stream's cost from the client's.
func BenchmarkRawPublishAsyncQueueStream(b *testing.B) {
	_, c := testClient(b)
	testQueue(b, c, "rawq", Config{})
	payload := make([]byte, benchPayload)
	subj := levelSubject("rawq", 1)
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		futs := make([]jetstream.PubAckFuture, 0, 1000)
		for j := i; j < min(i+1000, b.N); j++ {
			f, err := c.js.PublishAsync(subj, payload)
			if err != nil {
				b.Fatal(err)
			}
			futs = append(futs, f)
		}
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkThroughputTracked is BenchmarkThroughput with TrackStatus on:
// the cost of job status records.
func BenchmarkThroughputTracked(b *testing.B) {
	_, c := testClient(b)
	q := testQueue(b, c, "benchst", Config{TrackStatus: true})
	prefill(b, q, b.N)
	var n atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	cpu := startCPU(b)
	stop := startWorker(b, context.Background(), q, func(context.Context, *Job) error {
		if n.Add(1) == target {
			close(done)
		}
		return nil
	}, WorkerOptions{Concurrency: 256})
	<-done
	waitEmpty(b, c.js, levelStream("benchst", int(Normal)))
	cpu.stop()
	stop()
}

// BenchmarkThroughputFair is BenchmarkThroughput on a queue with Fairness,
// its jobs spread over 10 keys: each key has its consumer, and an ack of
// the level asks every consumer whether it still needs the job.
func BenchmarkThroughputFair(b *testing.B) {
	_, c := testClient(b)
	q := testQueue(b, c, "benchfair", Config{Fairness: true})
	payload := make([]byte, benchPayload)
	ctx := context.Background()
	for i := 0; i < b.N; i += 1000 {
		msgs := make([]Message, min(1000, b.N-i))
		for j := range msgs {
			msgs[j] = Message{Payload: payload, Options: []EnqueueOption{WithKey("k" + strconv.Itoa((i+j)%10))}}
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	cpu := startCPU(b)
	stop := startWorker(b, ctx, q, func(context.Context, *Job) error {
		if n.Add(1) == target {
			close(done)
		}
		return nil
	}, WorkerOptions{Concurrency: 256})
	<-done
	waitEmpty(b, c.js, levelStream("benchfair", int(Normal)))
	cpu.stop()
	stop()
}
