package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/queue"
)

// The growth and worker-process rows run each worker in a child process
// (BENCH_CHILD=worker-cloudrole or worker-raw, BENCH_URL, BENCH_CONC), so
// its memory is its own and several can share one queue. The child
// connects and prints "ready"; it works from a line on stdin until stdin
// closes, then stops (draining) and exits.

func runWorkerChild(side string) int {
	url := os.Getenv("BENCH_URL")
	conc, _ := strconv.Atoi(os.Getenv("BENCH_CONC"))
	in := bufio.NewReader(os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var start func() (stop func() error, err error)
	switch side {
	case "cloudrole":
		q, closeFn, err := crQueue(ctx, url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker child:", err)
			return 1
		}
		defer closeFn()
		start = func() (func() error, error) {
			return work(q, conc, func(context.Context, *queue.Job) error { return nil }), nil
		}
	case "raw":
		nc, err := nats.Connect(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker child:", err)
			return 1
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker child:", err)
			return 1
		}
		cons, err := js.Consumer(ctx, "RAW", "raw")
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker child:", err)
			return 1
		}
		start = func() (func() error, error) {
			cc, err := cons.Consume(func(m jetstream.Msg) { m.Ack() })
			if err != nil {
				return nil, err
			}
			return func() error { cc.Drain(); <-cc.Closed(); return nc.Flush() }, nil
		}
	default:
		return 2
	}
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return 0 // the parent gave up before the start
	}
	stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker child:", err)
		return 1
	}
	io.Copy(io.Discard, in) // until the parent closes stdin
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "worker child:", err)
		return 1
	}
	return 0
}

// workerProc is the parent's handle on one worker child.
type workerProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	waited chan error
}

// startWorkers starts n worker children of side on url, each with conc
// slots (cloudrole) and returns once all are ready to start.
func startWorkers(side, url string, n, conc int) ([]*workerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var ws []*workerProc
	fail := func(err error) ([]*workerProc, error) {
		for _, w := range ws {
			w.kill()
		}
		return nil, err
	}
	for range n {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "BENCH_CHILD=worker-"+side, "BENCH_URL="+url, "BENCH_CONC="+strconv.Itoa(conc))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return fail(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return fail(err)
		}
		if err := cmd.Start(); err != nil {
			return fail(err)
		}
		w := &workerProc{cmd: cmd, in: in, waited: make(chan error, 1)}
		ws = append(ws, w)
		ready := make(chan error, 1)
		go func() {
			line, err := bufio.NewReader(out).ReadString('\n')
			if err == nil && strings.TrimSpace(line) != "ready" {
				err = fmt.Errorf("unexpected %q", line)
			}
			ready <- err
			io.Copy(io.Discard, out)
			w.waited <- cmd.Wait()
		}()
		select {
		case err := <-ready:
			if err != nil {
				return fail(fmt.Errorf("%s worker child: %w", side, err))
			}
		case <-time.After(30 * time.Second):
			return fail(fmt.Errorf("%s worker child not ready in 30 s", side))
		}
	}
	return ws, nil
}

func (w *workerProc) start() error {
	_, err := io.WriteString(w.in, "go\n")
	return err
}

// stop closes the child's stdin and waits (bounded) for it to exit.
func (w *workerProc) stop() error {
	w.in.Close()
	select {
	case err := <-w.waited:
		return err
	case <-time.After(30 * time.Second):
		w.kill()
		return fmt.Errorf("worker child %d still running 30 s after stop", w.cmd.Process.Pid)
	}
}

func (w *workerProc) kill() {
	w.cmd.Process.Kill()
	w.in.Close()
}

// peakRSS is the process's peak resident set (VmHWM) in bytes, read from
// /proc/<pid>/status.
func peakRSS(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// drain times procs worker children of side consuming from stream on url
// until at most left jobs remain of total; it returns jobs per second and
// the first child's peak RSS, read just before the children stop.
func drain(side, url, stream string, procs, conc, total, left int) (rate, rss float64, err error) {
	ws, err := startWorkers(side, url, procs, conc)
	if err != nil {
		return 0, 0, err
	}
	stopAll := func() error {
		var first error
		for _, w := range ws {
			if err := w.stop(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	start := time.Now()
	for _, w := range ws {
		if err := w.start(); err != nil {
			stopAll()
			return 0, 0, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := waitAtMost(ctx, url, stream, uint64(left)); err != nil {
		stopAll()
		return 0, 0, err
	}
	rate = float64(total-left) / time.Since(start).Seconds()
	rss, err = peakRSS(ws[0].cmd.Process.Pid)
	if err != nil {
		stopAll()
		return 0, 0, err
	}
	return rate, rss, stopAll()
}
