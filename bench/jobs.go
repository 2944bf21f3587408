package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/queue"
)

// jobsRows: trigger-to-start latency of a Go job (against the bare queue
// pickup it is built on) and of an external program (against os/exec
// starting the same program), and the output throughput of a chatty
// program while queue work goes on (against publishing the same lines
// to JetStream by hand, beside the same queue work).
func jobsRows(e *env) ([]row, error) {
	withURL := func(f func(url string) ([]time.Duration, error)) func() ([]time.Duration, error) {
		return func() ([]time.Duration, error) {
			srv, stop, err := e.natsServer(false)
			if err != nil {
				return nil, err
			}
			defer stop()
			return f(srv.ClientURL())
		}
	}
	rows, err := latencyRows(e, "jobs: Start to Go job running,", "queue enqueue to handler (idle)",
		withURL(func(u string) ([]time.Duration, error) { return jobGoStart(e.dir, u, e.sz.samples) }),
		withURL(func(u string) ([]time.Duration, error) { return crPickup(u, e.sz.samples) }))
	if err != nil {
		return nil, err
	}
	prog, err := latencyRows(e, "jobs: Start to a program's first line,", "os/exec start to first line",
		withURL(func(u string) ([]time.Duration, error) { return jobProgramStart(e.dir, u, e.sz.jobStarts) }),
		func() ([]time.Duration, error) { return execStart(e.sz.jobStarts) })
	if err != nil {
		return nil, err
	}
	rows = append(rows, prog...)
	n := e.sz.outputLines
	a, b, r, err := pair(e.sz.reps,
		e.withServer(false, func(u string) (float64, error) { return jobOutputRate(e.dir, u, n) }),
		e.withServer(false, func(u string) (float64, error) { return rawOutputRate(u, n) }))
	if err != nil {
		return nil, err
	}
	return append(rows, row{Scenario: fmt.Sprintf("jobs: output of a program printing %d lines of 80 B, queue work beside", n), Unit: "lines/s",
		Cloudrole: a, Baseline: "os/exec pipe + raw PublishAsync", Base: b, Ratio: r}), nil
}

// benchRunner starts a job runner on url with job and waits until a
// client can start it.
func benchRunner(dir, url string, job jobs.Job) (*jobs.Client, func(), error) {
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{URL: url}})
	if err != nil {
		return nil, nil, err
	}
	data, _ := os.MkdirTemp(dir, "jobs")
	r, err := jobs.NewRunner(jobs.Options{Connect: p.Client, Instance: "bench", DataDir: data, HistoryBytes: 1 << 30})
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.Stop(ctx)
		p.Close()
		os.RemoveAll(data)
	}
	if err := r.Add(job); err != nil {
		stop()
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.Start(context.Background())
	c, err := r.Client(ctx)
	if err != nil {
		stop()
		return nil, nil, err
	}
	for { // until the runner has published the job
		defs, err := c.Jobs(ctx)
		if err == nil && len(defs) == 1 {
			return c, stop, nil
		}
		if ctx.Err() != nil {
			stop()
			return nil, nil, errors.New("the job runner never published its job")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// jobGoStart: one Start at a time of an idle Go job; the time from Start
// being called to the job's function running.
func jobGoStart(dir, url string, samples int) ([]time.Duration, error) {
	got := make(chan time.Duration, 1)
	c, stop, err := benchRunner(dir, url, jobs.Job{Name: "gobench", Func: func(ctx context.Context, inv *jobs.Invocation) error {
		ns, _ := strconv.ParseInt(inv.Args[0], 10, 64)
		got <- time.Since(time.Unix(0, ns))
		return nil
	}})
	if err != nil {
		return nil, err
	}
	defer stop()
	ctx := context.Background()
	var out []time.Duration
	for range samples {
		id, err := c.Start(ctx, "gobench", jobs.StartOptions{Args: []string{strconv.FormatInt(time.Now().UnixNano(), 10)}})
		if err != nil {
			return nil, err
		}
		select {
		case d := <-got:
			out = append(out, d)
		case <-time.After(30 * time.Second):
			return nil, errors.New("a Go job run did not start in 30 s")
		}
		if _, err := c.Wait(ctx, id); err != nil { // idle again before the next
			return nil, err
		}
	}
	return out, nil
}

// firstLine is the program both program-start rows run: it prints one
// line at once.
var firstLine = []string{"sh", "-c", "echo started"}

// jobProgramStart: one Start at a time of an idle program job; the time
// from Start being called to its first output line (as the runner stamped
// it when it read the line).
func jobProgramStart(dir, url string, samples int) ([]time.Duration, error) {
	c, stop, err := benchRunner(dir, url, jobs.Job{Name: "progbench", Command: firstLine})
	if err != nil {
		return nil, err
	}
	defer stop()
	ctx := context.Background()
	var out []time.Duration
	for range samples {
		t0 := time.Now()
		id, err := c.Start(ctx, "progbench", jobs.StartOptions{})
		if err != nil {
			return nil, err
		}
		r, err := c.Wait(ctx, id)
		if err != nil {
			return nil, err
		}
		lines, err := c.Receive(ctx, id, jobs.ReceiveOptions{Keep: true})
		if err != nil || len(lines) == 0 || r.State != jobs.Completed {
			return nil, fmt.Errorf("program run %s: %s, %d lines, %v", id, r.State, len(lines), err)
		}
		out = append(out, lines[0].Time.Sub(t0))
	}
	return out, nil
}

// execStart: the same program started with os/exec; the time from before
// Start to its first line read from the pipe.
func execStart(samples int) ([]time.Duration, error) {
	var out []time.Duration
	for range samples {
		cmd := exec.Command(firstLine[0], firstLine[1:]...)
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(pipe)
		if !sc.Scan() {
			cmd.Wait()
			return nil, errors.New("no line from the program")
		}
		out = append(out, time.Since(t0))
		for sc.Scan() {
		}
		if err := cmd.Wait(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// chatty prints n lines of 80 bytes (79 and a newline) as fast as it can.
func chatty(n int) []string {
	line := "cloudrole bench: a line of output from a chatty program, 80 bytes with newline."
	return []string{"sh", "-c", fmt.Sprintf("yes '%s' | head -n %d", line, n)}
}

// queueWork keeps a queue busy beside the output: an enqueuer and a
// worker of 8, until stop.
func queueWork(url string) (stop func() int64, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	q, closeFn, err := crQueue(ctx, url)
	if err != nil {
		cancel()
		return nil, err
	}
	var mu sync.Mutex
	done := int64(0)
	wstop := work(q, 8, func(context.Context, *queue.Job) error {
		mu.Lock()
		done++
		mu.Unlock()
		return nil
	})
	enq := make(chan struct{})
	go func() {
		defer close(enq)
		for ctx.Err() == nil {
			if crEnqueueBatch(ctx, q, 100, queue.Normal) != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() int64 {
		cancel()
		<-enq
		wstop()
		closeFn()
		mu.Lock()
		defer mu.Unlock()
		return done
	}, nil
}

// jobOutputRate: a program job printing n lines, queue work beside; lines
// per second from the run's start to its end (every line stored).
func jobOutputRate(dir, url string, n int) (float64, error) {
	c, stop, err := benchRunner(dir, url, jobs.Job{Name: "chatty", Command: chatty(n)})
	if err != nil {
		return 0, err
	}
	defer stop()
	qstop, err := queueWork(url)
	if err != nil {
		return 0, err
	}
	defer qstop()
	ctx := context.Background()
	id, err := c.Start(ctx, "chatty", jobs.StartOptions{})
	if err != nil {
		return 0, err
	}
	r, err := c.Wait(ctx, id)
	if err != nil {
		return 0, err
	}
	if r.State != jobs.Completed || r.Lines != int64(n) {
		return 0, fmt.Errorf("chatty run: %s, %d of %d lines stored, dropped %d", r.State, r.Lines, n, r.Dropped)
	}
	return float64(n) / r.EndedAt.Sub(r.StartedAt).Seconds(), nil
}

// rawOutputRate: the same program read through a pipe, each line
// published by hand (PublishAsync, the same 9-byte header) to a stream,
// queue work beside; lines per second until the server acked them all.
func rawOutputRate(url string, n int) (float64, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAWOUT", Subjects: []string{"rawout.>"}, Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	qstop, err := queueWork(url)
	if err != nil {
		return 0, err
	}
	defer qstop()
	args := chatty(n)
	cmd := exec.Command(args[0], args[1:]...)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(pipe, 64<<10)
	buf := make([]byte, 0, 128)
	count := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			buf = append(buf[:0], 'O', 0, 0, 0, 0, 0, 0, 0, 0)
			buf = append(buf, line[:len(line)-1]...)
			if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "rawout.run", Data: append([]byte(nil), buf...)}); err != nil {
				return 0, err
			}
			count++
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return 0, errors.New("raw publishes not acknowledged in a minute")
	}
	if count != n {
		return 0, fmt.Errorf("raw: %d of %d lines", count, n)
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}
