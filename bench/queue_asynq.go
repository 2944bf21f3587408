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

func (e *env) asynqClient() *asynq.Client {
	return asynq.NewClient(asynq.RedisClientOpt{Addr: e.raddr})
}

// asynqServer runs an asynq server with conc workers on the given queues
// until stop is called.
func (e *env) asynqServer(conc int, queues map[string]int, strict bool, h func(*asynq.Task)) (stop func()) {
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: e.raddr}, asynq.Config{
		Concurrency: conc, Queues: queues, StrictPriority: strict,
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
func (e *env) asynqEnqueue(n, par int, q string) error {
	c := e.asynqClient()
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

func (e *env) asynqThroughput(n, conc int) (float64, error) {
	if err := e.flushRedis(); err != nil {
		return 0, err
	}
	if err := e.asynqEnqueue(n, 16, "default"); err != nil {
		return 0, err
	}
	var count atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	stop := e.asynqServer(conc, map[string]int{"default": 1}, false, func(*asynq.Task) {
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

func (e *env) asynqEnqueueRate(n int) (float64, error) {
	if err := e.flushRedis(); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := e.asynqEnqueue(n, 1, "default"); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// asynqPriority mirrors crPriority with strict priority queues.
func (e *env) asynqPriority(backlog, samples, conc int) ([]time.Duration, error) {
	if err := e.flushRedis(); err != nil {
		return nil, err
	}
	if err := e.asynqEnqueue(backlog, 16, "low"); err != nil {
		return nil, err
	}
	lat := newLatencies(samples)
	stop := e.asynqServer(conc, map[string]int{"critical": 6, "default": 3, "low": 1}, true, func(t *asynq.Task) {
		if len(t.Payload()) == 129 { // high jobs carry one extra byte
			lat.add(time.Since(sentAt(t.Payload())))
		}
		time.Sleep(time.Millisecond)
	})
	defer stop()
	c := e.asynqClient()
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

func (e *env) asynqPickup(samples int) ([]time.Duration, error) {
	if err := e.flushRedis(); err != nil {
		return nil, err
	}
	got := make(chan time.Duration, 1)
	stop := e.asynqServer(1, map[string]int{"default": 1}, false, func(t *asynq.Task) { got <- time.Since(sentAt(t.Payload())) })
	defer stop()
	c := e.asynqClient()
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
