package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/queue"
)

// Runner runs the jobs of one role instance: it takes triggered runs from
// their queues, fires schedules, keeps continuous jobs running, records
// every run and its output in NATS, stops runs on request, and records
// Failed the runs of instances that vanished. Make one with NewRunner,
// define jobs with Add (or Options.Jobs and Options.Dir), Start it, Stop
// it. The host makes one per instance: it starts after OnStart returned
// and stops before OnStop. All methods are safe for concurrent use.
type Runner struct {
	o       settings
	log     *slog.Logger
	session string // this runner, in the records it claims

	mu       sync.Mutex
	started  bool
	stopped  bool
	ctx      context.Context // the runner's; cancelled (ErrRunnerStopped) by Stop
	cancel   context.CancelCauseFunc
	deadline time.Time // Stop's deadline, which caps stopping waits
	jobs     map[string]*entry
	runs     map[string]*execution // running here, by run ID
	problems map[string]string     // job folder -> why it is not loaded
	conn     *connection           // nil until connected
	connErr  string                // why not connected yet
	dialing  bool
	counts   counts
	stats    map[string]*jobStats // by job name; kept across redefinitions

	wg sync.WaitGroup // every goroutine the runner started

	copyMu sync.Mutex     // serialises copies of job folders
	inUse  map[string]int // copy folder -> runs using it; guarded by copyMu
}

// entry is one defined job and its loops (queue worker, schedule,
// continuous task), which run while the runner is connected.
type entry struct {
	job Job

	cancel context.CancelCauseFunc // ends the loops; nil while they do not run
	done   chan struct{}           // closed when the loops have ended
	ready  chan struct{}           // closed when the loops have started
}

// connection is what the runner uses once connected.
type connection struct {
	qc        *queue.Client
	st        *store
	client    *Client
	js        jetstream.JetStream // for output: its own async publish window
	locker    *queue.Locker
	sub       *nats.Subscription // stop requests
	unobserve func()             // removes the dead-letter observer
}

// NewRunner validates opts and its Jobs and returns a Runner. It connects
// to nothing and starts nothing. Errors wrap ErrBadJob or ErrDuplicateJob.
func NewRunner(opts Options) (*Runner, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &Runner{
		o:        o,
		log:      o.Logger.With("component", "jobs"),
		session:  o.Instance + "/" + hex.EncodeToString(b[:]),
		jobs:     map[string]*entry{},
		runs:     map[string]*execution{},
		problems: map[string]string{},
	}
	for _, j := range o.Jobs {
		if j.source == "" {
			j.source = "config"
		}
		if err := r.define(j); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add defines a job. Before Start it joins the jobs the runner starts
// with; after Start it begins at once (its queue, schedule or continuous
// runs). Errors wrap ErrBadJob (naming the field), ErrDuplicateJob, or
// ErrRunnerStopped after Stop.
func (r *Runner) Add(j Job) error {
	j.source = "" // what a caller passes is code, not config or a folder
	return r.define(j)
}

func (r *Runner) define(j Job) error {
	if err := j.check(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return fmt.Errorf("%w: cannot add job %q", ErrRunnerStopped, j.Name)
	}
	if old, ok := r.jobs[j.Name]; ok {
		return fmt.Errorf("%w: %q (by %s, and by %s)", ErrDuplicateJob, j.Name, old.job.source, j.source)
	}
	e := &entry{job: j}
	r.jobs[j.Name] = e
	r.activateLocked(e)
	return nil
}

// activateLocked starts e's loops if the runner is connected, or starts
// connecting if it is running and this is its first job.
func (r *Runner) activateLocked(e *entry) {
	switch {
	case !r.started || r.stopped:
	case r.conn != nil:
		r.startLoopsLocked(e)
	default:
		r.dialLocked()
	}
}

// Start starts the runner in the background, bound to ctx (the host's
// instance context): when ctx ends, every run is stopped as by Stop. It
// returns at once; if there are jobs it connects (waiting for NATS as long
// as it takes, in the background) and starts them. Errors wrap
// ErrRunnerStopped after Stop; a second Start returns nil.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return ErrRunnerStopped
	}
	if r.started {
		return nil
	}
	r.started = true
	// The runner's own contexts carry no host: its queue workers and
	// task groups report in the jobs section, not beside the role's own.
	base := hostctx.With(ctx, nil)
	// Every run's context derives from r.ctx: Stop, or the end of ctx,
	// stops them all.
	r.ctx, r.cancel = context.WithCancelCause(base)
	if r.o.Dir != "" {
		r.goLocked(func() { r.watchDir(r.ctx) })
	}
	if len(r.jobs) > 0 {
		r.dialLocked()
	}
	return nil
}

// goLocked runs fn in a goroutine the runner waits for in Stop.
func (r *Runner) goLocked(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// dialLocked starts connecting, once.
func (r *Runner) dialLocked() {
	if r.dialing || r.conn != nil {
		return
	}
	r.dialing = true
	r.goLocked(func() { r.connect(r.ctx) })
}

// connect gets the NATS connection and the jobs store, retrying until it
// has them or ctx ends, then starts every job and the runner's loops.
func (r *Runner) connect(ctx context.Context) {
	delay := 100 * time.Millisecond
	for {
		c, err := r.tryConnect(ctx)
		if err == nil {
			r.connected(c)
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		first := r.connErr == ""
		r.connErr = err.Error()
		r.mu.Unlock()
		if first {
			r.log.Warn("jobs: cannot reach NATS yet; retrying", "error", err.Error())
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (r *Runner) tryConnect(ctx context.Context) (*connection, error) {
	qc, err := r.o.Connect(ctx)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, qc.Conn(), qc.JetStream(), qc.Synced, r.o.Replicas, false)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(qc.Conn(), jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			r.log.Warn("jobs: an output line was not stored", "subject", m.Subject, "error", err.Error())
		}))
	if err != nil {
		return nil, err
	}
	locker, err := queue.NewLocker(ctx, qc.JetStream(), queue.LockerOptions{Replicas: r.o.Replicas})
	if err != nil {
		return nil, err
	}
	c := &connection{qc: qc, st: st, js: js, locker: locker,
		client: &Client{st: st, qc: qc, queues: map[string]*queue.Queue{}}}
	c.sub, err = qc.Conn().Subscribe(stopPrefix+">", r.onStopRequest)
	if err != nil {
		return nil, fmt.Errorf("jobs: subscribe to stop requests: %w", err)
	}
	return c, nil
}

// connected makes c the runner's connection and starts what waited for it.
func (r *Runner) connected(c *connection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		_ = c.sub.Unsubscribe()
		return
	}
	r.conn, r.connErr, r.dialing = c, "", false
	c.unobserve = c.qc.Observe(r.onQueueEvent)
	r.log.Info("jobs: connected", "jobs", len(r.jobs))
	for _, name := range r.namesLocked() {
		r.startLoopsLocked(r.jobs[name])
	}
	r.goLocked(func() { r.publishDefs(r.ctx) })
	r.goLocked(func() { r.sweep(r.ctx) })
}

func (r *Runner) namesLocked() []string {
	names := make([]string, 0, len(r.jobs))
	for n := range r.jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// startLoopsLocked starts the loops of e: its queue worker and schedule
// (triggered) or its supervised runs (continuous).
func (r *Runner) startLoopsLocked(e *entry) {
	if e.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancelCause(r.ctx)
	e.cancel, e.done, e.ready = cancel, make(chan struct{}), make(chan struct{})
	done, ready, job := e.done, e.ready, e.job
	r.goLocked(func() {
		defer close(done)
		switch job.Kind {
		case Continuous:
			r.continuous(ctx, e, ready)
		default:
			r.triggered(ctx, e, ready)
		}
	})
	// Published once its loops are up (a triggered job's queue declared),
	// so a client that sees the definition can start it.
	r.goLocked(func() {
		select {
		case <-ready:
			r.announce(ctx, job)
		case <-done:
		}
	})
}

// remove undefines a job: its loops end (a continuous run is stopped,
// cause ErrJobChanged); triggered runs under way finish. It returns a
// channel closed once the loops have ended.
func (r *Runner) removeLocked(name string) <-chan struct{} {
	e := r.jobs[name]
	delete(r.jobs, name)
	if e == nil || e.cancel == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	e.cancel(ErrJobChanged)
	return e.done
}

// Stop stops every run the WebJobs way (see the package doc: Stopping)
// and the runner's loops, and waits for them, within ctx: each run's
// stopping wait is capped at half of the time left until ctx's deadline.
// It returns nil once everything has ended, or, when ctx ends first, an
// error naming the runs still running. Idempotent; Stop before Start is
// allowed.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	if dl, ok := ctx.Deadline(); ok && (r.deadline.IsZero() || dl.Before(r.deadline)) {
		r.deadline = dl
	}
	cancel, conn := r.cancel, r.conn
	r.mu.Unlock()
	if cancel != nil {
		cancel(ErrRunnerStopped)
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("jobs: stopping: %w; still running: %s", context.Cause(ctx), strings.Join(r.running(), ", "))
	}
	if conn != nil {
		_ = conn.sub.Unsubscribe()
		conn.unobserve()
	}
	return nil
}

// running names the runs under way here.
func (r *Runner) running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.runs))
	for id := range r.runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return []string{"(runner loops)"}
	}
	return ids
}

// Client returns a Client on the runner's connection, waiting until the
// runner is connected or ctx ends.
func (r *Runner) Client(ctx context.Context) (*Client, error) {
	for {
		r.mu.Lock()
		conn, stopped := r.conn, r.stopped
		r.mu.Unlock()
		switch {
		case conn != nil:
			return conn.client, nil
		case stopped:
			return nil, ErrRunnerStopped
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// stopDeadline is Stop's deadline, or zero.
func (r *Runner) stopDeadline() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deadline
}

// onStopRequest is a client's stop request for a run: stop it if it runs
// here.
func (r *Runner) onStopRequest(m *nats.Msg) {
	id := strings.TrimPrefix(m.Subject, stopPrefix)
	r.mu.Lock()
	x := r.runs[id]
	r.mu.Unlock()
	if x == nil {
		return
	}
	x.stop(ErrStopRequested)
	_ = m.Respond([]byte(r.o.Instance))
}

var errNotHere = errors.New("jobs: the job is not defined on this instance any more")
