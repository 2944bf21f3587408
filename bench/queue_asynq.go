package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

const asynqType = "bench"

// asynqEmptyPoll is how often the end-to-end rows' asynq server looks
// at an empty queue (asynq's default: a random wait up to 1 s). A
// producer-paced run empties the queue between arrivals, and asynq's one
// fetching goroutine would then sleep through the burst that follows; a
// throughput row should not be decided by that poll (the idle-pickup row
// shows it at its default).
const asynqEmptyPoll = 5 * time.Millisecond

func (r *redisServer) asynqClient() *asynq.Client {
	return asynq.NewClient(asynq.RedisClientOpt{Addr: r.addr})
}

// asynqServer runs an asynq server with conc workers on the given queues
// until stop is called.
func (r *redisServer) asynqServer(conc int, queues map[string]int, strict bool, h func(*asynq.Task)) (stop func()) {
	return r.asynqServerPoll(conc, queues, strict, 0, h)
}

// asynqServerPoll is asynqServer with the empty-queue poll set (0: asynq's
// default).
func (r *redisServer) asynqServerPoll(conc int, queues map[string]int, strict bool, poll time.Duration, h func(*asynq.Task)) (stop func()) {
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: r.addr}, asynq.Config{
		Concurrency: conc, Queues: queues, StrictPriority: strict, TaskCheckInterval: poll,
		Logger: quietLogger{}, LogLevel: asynq.ErrorLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(asynqType, func(_ context.Context, t *asynq.Task) error { h(t); return nil })
	if err := srv.Start(mux); err != nil {
		log.Fatalf("asynq server: %v", err)
	}
	return srv.Shutdown
}

// asynqEnqueue stores n tasks in queue q using par goroutines.
func (r *redisServer) asynqEnqueue(n, par int, q string) error {
	c := r.asynqClient()
	defer c.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, par)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := c.Enqueue(asynq.NewTask(asynqType, payload(time.Now())), asynq.Queue(q), asynq.MaxRetry(0)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (r *redisServer) asynqThroughput(n, conc int) (float64, error) {
	if err := r.flush(); err != nil {
		return 0, err
	}
	if err := r.asynqEnqueue(n, 16, "default"); err != nil {
		return 0, err
	}
	var count atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	stop := r.asynqServer(conc, map[string]int{"default": 1}, false, func(*asynq.Task) {
		if count.Add(1) == int64(n) {
			close(done)
		}
	})
	defer stop()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("asynq processed %d of %d in 5 minutes", count.Load(), n)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// asynqEndToEnd: 16 goroutines enqueue n tasks one by one (asynq has no
// batch enqueue) while a server with conc workers runs them; tasks per
// second until Redis holds none of them, that is until it has applied
// every task's completion, not when the last handler ran.
func (r *redisServer) asynqEndToEnd(n, conc int) (float64, error) {
	if err := r.flush(); err != nil {
		return 0, err
	}
	var count atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	stop := r.asynqServerPoll(conc, map[string]int{"default": 1}, false, asynqEmptyPoll, func(*asynq.Task) {
		if count.Add(1) == int64(n) {
			close(done)
		}
	})
	defer stop()
	enq := make(chan error, 1)
	go func() { enq <- r.asynqEnqueue(n, 16, "default") }()
	limit := time.After(5 * time.Minute)
	select {
	case err := <-enq:
		if err != nil {
			return 0, err
		}
	case <-limit:
		return 0, fmt.Errorf("asynq enqueued fewer than %d in 5 minutes", n)
	}
	select {
	case <-done:
	case <-limit:
		return 0, fmt.Errorf("asynq processed %d of %d in 5 minutes", count.Load(), n)
	}
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.addr})
	defer in.Close()
	for {
		qi, err := in.GetQueueInfo("default")
		if err != nil {
			return 0, err
		}
		if qi.Size == 0 {
			break
		}
		select {
		case <-limit:
			return 0, fmt.Errorf("asynq still holds %d tasks after 5 minutes", qi.Size)
		case <-time.After(2 * time.Millisecond):
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func (r *redisServer) asynqEnqueueRate(n int) (float64, error) {
	if err := r.flush(); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := r.asynqEnqueue(n, 1, "default"); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// asynqPriority mirrors crPriority with strict priority queues.
func (r *redisServer) asynqPriority(backlog, samples, conc int) ([]time.Duration, error) {
	if err := r.flush(); err != nil {
		return nil, err
	}
	if err := r.asynqEnqueue(backlog, 16, "low"); err != nil {
		return nil, err
	}
	lat := newLatencies(samples)
	stop := r.asynqServer(conc, map[string]int{"critical": 6, "default": 3, "low": 1}, true, func(t *asynq.Task) {
		if len(t.Payload()) == 129 { // high jobs carry one extra byte
			lat.add(time.Since(sentAt(t.Payload())))
		}
		time.Sleep(time.Millisecond)
	})
	defer stop()
	c := r.asynqClient()
	defer c.Close()
	for range samples {
		p := append(payload(time.Now()), 1)
		if _, err := c.Enqueue(asynq.NewTask(asynqType, p), asynq.Queue("critical"), asynq.MaxRetry(0)); err != nil {
			return nil, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return lat.wait(time.Minute)
}

func (r *redisServer) asynqPickup(samples int) ([]time.Duration, error) {
	if err := r.flush(); err != nil {
		return nil, err
	}
	got := make(chan time.Duration, 1)
	stop := r.asynqServer(1, map[string]int{"default": 1}, false, func(t *asynq.Task) { got <- time.Since(sentAt(t.Payload())) })
	defer stop()
	c := r.asynqClient()
	defer c.Close()
	var out []time.Duration
	for range samples {
		time.Sleep(2 * time.Millisecond)
		if _, err := c.Enqueue(asynq.NewTask(asynqType, payload(time.Now())), asynq.MaxRetry(0)); err != nil {
			return nil, err
		}
		select {
		case d := <-got:
			out = append(out, d)
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("asynq did not pick a job up in 30 s")
		}
	}
	return out, nil
}

type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(args ...any) {
	log.Fatal(args...)
}
