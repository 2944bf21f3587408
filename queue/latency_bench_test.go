package queue

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkHighPriorityLatency: 100k low-priority jobs wait, 8 handlers of
// 1 ms work them, and one high-priority job is enqueued every 5 ms; it
// reports the enqueue→handler-start latency of the high jobs (p50, p99).
// b.N high jobs are measured.
func BenchmarkHighPriorityLatency(b *testing.B) {
	_, c := testClient(b)
	q := testQueue(b, c, "lat", Config{})
	ctx := context.Background()
	payload := make([]byte, benchPayload)
	for i := 0; i < 100_000; i += 1000 {
		msgs := make([]Message, 1000)
		for j := range msgs {
			msgs[j] = Message{Payload: payload, Options: []EnqueueOption{WithPriority(Low)}}
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	got := make(chan struct{}, b.N)
	startWorker(b, ctx, q, func(_ context.Context, j *Job) error {
		if j.Priority == High {
			now := time.Now()
			mu.Lock()
			lat = append(lat, now.Sub(sent[j.ID]))
			mu.Unlock()
			got <- struct{}{}
			return nil
		}
		t := time.NewTimer(time.Millisecond) // the low job's work
		<-t.C
		return nil
	}, WorkerOptions{Concurrency: 8})
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		id := "h" + strconv.Itoa(i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		if _, err := q.Enqueue(ctx, payload, WithPriority(High), WithID(id)); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		<-got
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkIdlePickup: one job into an idle queue, enqueue→handler start.
func BenchmarkIdlePickup(b *testing.B) {
	_, c := testClient(b)
	q := testQueue(b, c, "idle", Config{})
	ctx := context.Background()
	started := make(chan time.Time, 1)
	startWorker(b, ctx, q, func(context.Context, *Job) error {
		started <- time.Now()
		return nil
	}, WorkerOptions{})
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := q.Enqueue(ctx, nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-started).Sub(t0))
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}
