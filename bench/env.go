package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/redis/go-redis/v9"
)

// sizes scale every scenario.
type sizes struct {
	name        string
	reps        int           // pairwise repetitions (A B B A ...)
	fsyncFor    time.Duration // each run of the disk's write+fsync loop
	e2eJobs     int           // end-to-end jobs on the durable defaults
	jobs        int           // throughput jobs
	durableJobs int           // throughput jobs with fsync on every write
	backlogs    []int         // jobs waiting in the growth rows, smallest first; each row consumes the smallest
	procJobs    int           // jobs drained by 1, 2, 3 worker processes
	enqueue     int           // enqueue-rate jobs
	backlog     int           // low-priority jobs waiting in the busy-worker scheduling scenario
	samples     int           // latency samples
	pickups     int           // idle-pickup samples (asynq takes about a second each)
	restarts    int           // supervisor restarts measured
	idleTasks   int           // supervised idle tasks for the memory figure
	concurrency int           // workers in the queue scenarios, both sides
	jobStarts   int           // trigger-to-start samples of a job program
	outputLines int           // lines of the chatty program
	scheduled   int           // scheduled jobs per lateness run
	flood       int           // key A's jobs in the fairness scenario
	floodB      int           // key B's jobs after them
	// 3-activity chains per throughput run, and chains timed one at a
	// time per latency run.
	orchestrations, chainSamples int
}

var (
	quickSizes = sizes{name: "quick", reps: 3, fsyncFor: 1500 * time.Millisecond, e2eJobs: 20_000, jobs: 100_000, durableJobs: 10_000, backlogs: []int{10_000, 100_000, 1_000_000}, procJobs: 100_000, enqueue: 5_000, backlog: 100_000, samples: 200, pickups: 30, restarts: 20_000, idleTasks: 10_000, concurrency: 64,
		jobStarts: 50, outputLines: 200_000, scheduled: 100, flood: 100_000, floodB: 100, orchestrations: 1_000, chainSamples: 100}
	smokeSizes = sizes{name: "smoke", reps: 1, fsyncFor: 200 * time.Millisecond, e2eJobs: 500, jobs: 1_000, durableJobs: 500,
		backlogs: []int{2_000, 5_000}, procJobs: 2_000, enqueue: 200, backlog: 1_000, samples: 20, pickups: 3, restarts: 500, idleTasks: 500, concurrency: 16,
		jobStarts: 5, outputLines: 20_000, scheduled: 10, flood: 1_000, floodB: 10, orchestrations: 50, chainSamples: 5}
)

// env holds what scenarios share: sizes, a temp dir and the Redis servers.
type env struct {
	sz    sizes
	dir   string
	redis *redisServer // persistence off, memory only
	aof   *redisServer // appendfsync always; started on first use
}

func newEnv(sz sizes) (*env, error) {
	dir, err := os.MkdirTemp("", "cloudrole-bench")
	if err != nil {
		return nil, err
	}
	e := &env{sz: sz, dir: dir}
	e.redis, err = startRedis(dir, "memory only", "--save", "", "--appendonly", "no")
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// aofRedis is a second Redis, in the same temp dir (the same disk as the
// JetStream stores), that appends every write to its log and fsyncs it
// before replying: Redis's durable mode, the fair peer of sync "always".
func (e *env) aofRedis() (*redisServer, error) {
	if e.aof != nil {
		return e.aof, nil
	}
	dir, err := os.MkdirTemp(e.dir, "redis-aof")
	if err != nil {
		return nil, err
	}
	e.aof, err = startRedis(dir, "appendfsync always", "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	return e.aof, err
}

// redisServer is a redis-server child on a free loopback port.
type redisServer struct {
	cmd  *exec.Cmd
	addr string
	mode string // its persistence, as the table names it
}

func startRedis(dir, mode string, persistence ...string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found on PATH: install Debian's redis-server package (apt-get install redis-server) for the asynq baselines")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), mode: mode}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--protected-mode", "yes", "--loglevel", "warning"}, persistence...)
	r.cmd = exec.Command(bin, args...)
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	rc := redis.NewClient(&redis.Options{Addr: r.addr})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server on %s did not answer", r.addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r, nil
}

// flush empties Redis between runs so each starts alike.
func (r *redisServer) flush() error {
	rc := redis.NewClient(&redis.Options{Addr: r.addr})
	defer rc.Close()
	return rc.FlushAll(context.Background()).Err()
}

func (r *redisServer) stop() {
	if r != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

func (e *env) close() {
	e.redis.stop()
	e.aof.stop()
	os.RemoveAll(e.dir)
}

// natsServer starts a fresh JetStream server in its own store dir; both
// sides of a pair get one with identical options.
func (e *env) natsServer(syncAlways bool) (*server.Server, func(), error) {
	dir, err := os.MkdirTemp(e.dir, "nats")
	if err != nil {
		return nil, nil, err
	}
	o := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"),
		NoLog: true, NoSigs: true, SyncAlways: syncAlways, MaxPayload: 8 << 20}
	s, err := server.NewServer(o)
	if err != nil {
		return nil, nil, err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return nil, nil, errors.New("nats-server did not start")
	}
	return s, func() { s.Shutdown(); s.WaitForShutdown(); os.RemoveAll(dir) }, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pair runs a and b reps times each, alternating A B B A A B ..., and
// returns their medians and the median of the per-pair ratios a/b.
func pair(reps int, a, b func() (float64, error)) (ma, mb, ratio float64, err error) {
	var as, bs, rs []float64
	for i := range reps {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		x, err := first()
		if err != nil {
			return 0, 0, 0, err
		}
		y, err := second()
		if err != nil {
			return 0, 0, 0, err
		}
		if i%2 == 1 {
			x, y = y, x
		}
		as, bs = append(as, x), append(bs, y)
		if y != 0 {
			rs = append(rs, x/y)
		}
	}
	return median(as), median(bs), median(rs), nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile returns the p-th percentile (0..100) of durations, in ms.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return float64(s[i]) / float64(time.Millisecond)
}
