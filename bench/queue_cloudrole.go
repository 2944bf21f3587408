package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// payload is a 128-byte job body; its first 8 bytes carry the enqueue
// time for the latency scenarios.
func payload(at time.Time) []byte {
	b := make([]byte, 128)
	binary.LittleEndian.PutUint64(b, uint64(at.UnixNano()))
	return b
}

func sentAt(b []byte) time.Time { return time.Unix(0, int64(binary.LittleEndian.Uint64(b))) }

// crQueue connects to url and opens the bench queue.
func crQueue(ctx context.Context, url string) (*queue.Queue, func(), error) {
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: url}})
	if err != nil {
		return nil, nil, err
	}
	c, err := p.Client(ctx)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	q, err := c.Queue(ctx, "bench", queue.Config{AckWait: time.Minute})
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return q, func() { p.Close() }, nil
}

// crEnqueueBatch stores n jobs at priority prio, 1000 per batch.
func crEnqueueBatch(ctx context.Context, q *queue.Queue, n int, prio queue.Priority) error {
	const chunk = 1000
	for done := 0; done < n; {
		k := min(chunk, n-done)
		msgs := make([]queue.Message, k)
		for i := range msgs {
			msgs[i] = queue.Message{Payload: payload(time.Now()), Options: []queue.EnqueueOption{queue.WithPriority(prio)}}
		}
		if _, err := q.EnqueueBatch(ctx, msgs); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// work runs q.Work with h until stop is called.
func work(q *queue.Queue, conc int, h queue.Handler) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- q.Work(ctx, h, queue.WorkerOptions{Concurrency: conc}) }()
	return func() error { cancel(); return <-errc }
}

// crThroughput: enqueue n jobs, then consume-and-ack them with a no-op
// handler; returns jobs per second until the level's stream is empty.
func crThroughput(url string, n, conc int) (float64, error) {
	ctx := context.Background()
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		return 0, err
	}
	defer closeFn()
	if err := crEnqueueBatch(ctx, q, n, queue.Normal); err != nil {
		return 0, err
	}
	var count atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	stop := work(q, conc, func(context.Context, *queue.Job) error {
		if count.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		stop()
		return 0, fmt.Errorf("consumed %d of %d jobs in 5 minutes", count.Load(), n)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := waitEmpty(wctx, url, "CRQ_bench_p1"); err != nil {
		stop()
		return 0, err
	}
	elapsed := time.Since(start)
	if err := stop(); err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// crEnqueueRate: jobs per second enqueued one by one (sync) or in batches.
func crEnqueueRate(url string, n int, batch bool) (float64, error) {
	ctx := context.Background()
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		return 0, err
	}
	defer closeFn()
	start := time.Now()
	if batch {
		err = crEnqueueBatch(ctx, q, n, queue.Normal)
	} else {
		for range n {
			if _, err = q.Enqueue(ctx, payload(time.Now())); err != nil {
				break
			}
		}
	}
	if err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// latencies collects enqueue-to-start durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
	n  int
	ch chan struct{}
}

func newLatencies(n int) *latencies { return &latencies{n: n, ch: make(chan struct{})} }

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) < l.n {
		l.d = append(l.d, d)
		if len(l.d) == l.n {
			close(l.ch)
		}
	}
}

func (l *latencies) wait(limit time.Duration) ([]time.Duration, error) {
	select {
	case <-l.ch:
	case <-time.After(limit):
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, fmt.Errorf("only %d of %d samples in %v", len(l.d), l.n, limit)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.d...), nil
}

// crPriority: backlog low jobs wait, a pool of conc workers with a 1 ms
// handler, and samples high jobs one every 5 ms: their enqueue-to-start.
func crPriority(url string, backlog, samples, conc int) ([]time.Duration, error) {
	ctx := context.Background()
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	if err := crEnqueueBatch(ctx, q, backlog, queue.Low); err != nil {
		return nil, err
	}
	lat := newLatencies(samples)
	stop := work(q, conc, func(_ context.Context, j *queue.Job) error {
		if j.Priority == queue.High {
			lat.add(time.Since(sentAt(j.Payload)))
		}
		time.Sleep(time.Millisecond) // the 1 ms handler
		return nil
	})
	defer stop()
	for range samples {
		if _, err := q.Enqueue(ctx, payload(time.Now()), queue.WithPriority(queue.High)); err != nil {
			return nil, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return lat.wait(time.Minute)
}

// crPickup: one job at a time into an empty queue with an idle worker.
func crPickup(url string, samples int) ([]time.Duration, error) {
	ctx := context.Background()
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	got := make(chan time.Duration, 1)
	stop := work(q, 1, func(_ context.Context, j *queue.Job) error {
		got <- time.Since(sentAt(j.Payload))
		return nil
	})
	defer stop()
	var out []time.Duration
	for range samples {
		time.Sleep(2 * time.Millisecond) // let the worker go idle
		if _, err := q.Enqueue(ctx, payload(time.Now())); err != nil {
			return nil, err
		}
		select {
		case d := <-got:
			out = append(out, d)
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("a job was not picked up in 30 s")
		}
	}
	return out, nil
}

// crEndToEnd: one producer enqueues n jobs with EnqueueBatch (1000 a
// batch) while a worker with conc slots runs them; jobs per second from
// the first enqueue until the level's stream is empty and then after
// (if not nil) has returned.
func crEndToEnd(q *queue.Queue, url string, n, conc int, after func() error) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var count atomic.Int64
	done := make(chan struct{})
	stop := work(q, conc, func(context.Context, *queue.Job) error {
		if count.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	start := time.Now()
	if err := crEnqueueBatch(ctx, q, n, queue.Normal); err != nil {
		stop()
		return 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		stop()
		return 0, fmt.Errorf("consumed %d of %d jobs in 5 minutes", count.Load(), n)
	}
	if err := waitEmpty(ctx, url, "CRQ_bench_p1"); err != nil {
		stop()
		return 0, err
	}
	if after != nil {
		if err := after(); err != nil {
			stop()
			return 0, err
		}
	}
	elapsed := time.Since(start)
	if err := stop(); err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// crDefaultEndToEnd runs crEndToEnd on cloudrole as a user runs it: the
// embedded server with nothing but a StoreDir (sync "always", through the
// group commit on Linux; sync "" is that default) and a queue at its
// default config.
func crDefaultEndToEnd(dir, sync string, n, conc int) (float64, error) {
	store, err := os.MkdirTemp(dir, "cr-default")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(store)
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: store, Sync: sync}})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	ctx := context.Background()
	c, err := p.Client(ctx)
	if err != nil {
		return 0, err
	}
	q, err := c.Queue(ctx, "bench", queue.Config{})
	if err != nil {
		return 0, err
	}
	// The stream empty means the server has applied every ack; one more
	// sync of the store's file system puts the last of them on disk, as
	// raw's SyncAlways server has its own by then.
	return crEndToEnd(q, c.Conn().ConnectedUrl(), n, conc, func() error { return syncStore(store) })
}
