package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/queue"
)

// Client controls jobs from any process connected to the role's NATS: a
// role's own code, an HTTP handler, a CLI verb, a test. It needs no
// Runner: it reads and writes the records the runners share. Safe for
// concurrent use.
type Client struct {
	st *store
	qc *queue.Client

	mu     sync.Mutex
	queues map[string]*queue.Queue // trigger queues opened for Start
}

// ClientOptions tune NewClient. The zero value is what most callers want.
type ClientOptions struct {
	// Replicas is the replica count of the jobs bucket and output stream
	// when this client is the first to use them on a cluster. Defaults to
	// 1. Give the value of the runners' config (jobs.replicas).
	Replicas int
	// NoCreate opens the jobs bucket and output stream only if they
	// exist: NewClient then fails with ErrNoStore rather than create them
	// on a NATS where no runner ever had a job. For readers that only
	// look (the console), so looking leaves nothing behind. Defaults to
	// false: create them.
	NoCreate bool
}

// NewClient returns a Client on qc's connection, opening (or, unless
// opts.NoCreate, creating) the jobs bucket and output stream.
func NewClient(ctx context.Context, qc *queue.Client, opts ClientOptions) (*Client, error) {
	if qc == nil {
		return nil, errors.New("jobs: nil queue client")
	}
	st, err := openStore(ctx, qc.Conn(), qc.JetStream(), qc.Synced, opts.Replicas, opts.NoCreate)
	if err != nil {
		return nil, err
	}
	return &Client{st: st, qc: qc, queues: map[string]*queue.Queue{}}, nil
}

// Connect returns a Client on the connection of the queue provider carried
// by ctx (the context of a hook, or of a request to the host's HTTP
// server): see queue.Connect.
func Connect(ctx context.Context) (*Client, error) {
	qc, err := queue.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return NewClient(ctx, qc, ClientOptions{})
}

// StartOptions are the arguments of a run.
type StartOptions struct {
	// Args are the run's arguments (see Trigger.Args).
	Args []string
	// Trigger records who started it: TriggerAPI (the default) or
	// TriggerManual.
	Trigger TriggerType
}

// Limits on a run's arguments: a program receives them on its command line
// and, joined, in an environment variable.
const (
	MaxArgs      = 1000
	MaxArgsBytes = 64 << 10
)

func checkArgs(args []string) error {
	if len(args) > MaxArgs {
		return fmt.Errorf("%w: %d arguments; at most %d", ErrBadArgs, len(args), MaxArgs)
	}
	total := 0
	for i, a := range args {
		total += len(a) + 1
		switch {
		case !utf8.ValidString(a):
			return fmt.Errorf("%w: argument %d is not valid UTF-8", ErrBadArgs, i+1)
		case containsNUL(a):
			return fmt.Errorf("%w: argument %d holds a NUL byte, which no program can receive", ErrBadArgs, i+1)
		}
	}
	if total > MaxArgsBytes {
		return fmt.Errorf("%w: %d bytes of arguments; at most %d", ErrBadArgs, total, MaxArgsBytes)
	}
	return nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// trigger is the message on a job's queue: the run to start.
type trigger struct {
	ID        string    `json:"id"`
	Job       string    `json:"job"`
	Trigger   Trigger   `json:"trigger"`
	CreatedAt time.Time `json:"created_at"`
}

// Start triggers a run of a triggered job and returns its run ID at once:
// the run is queued (NotStarted) until one instance that defines the job
// takes it. Errors wrap ErrUnknownJob (no running instance defines the
// job), ErrNotTriggered (a continuous job), ErrBadArgs,
// ErrAlreadyRunning (a singleton or scheduled job with a run queued or
// running; the error names it) or ErrTooManyQueued; nothing was started
// then.
func (c *Client) Start(ctx context.Context, job string, opts StartOptions) (string, error) {
	if err := checkArgs(opts.Args); err != nil {
		return "", err
	}
	def, err := c.st.definition(ctx, job)
	if err != nil {
		return "", err
	}
	if def.Kind == Continuous {
		return "", fmt.Errorf("%w: %q is a continuous job: it runs by itself", ErrNotTriggered, job)
	}
	if def.Singleton {
		if r, ok, err := c.active(ctx, job); err != nil {
			return "", err
		} else if ok {
			return "", fmt.Errorf("%w: job %q: run %s is %s", ErrAlreadyRunning, job, r.ID, r.State)
		}
	}
	if opts.Trigger == "" {
		opts.Trigger = TriggerAPI
	}
	now := time.Now().UTC()
	t := trigger{ID: newRunID(job, now), Job: job, Trigger: Trigger{Type: opts.Trigger, Args: opts.Args}, CreatedAt: now}
	if err := c.enqueue(ctx, t); err != nil {
		return "", err
	}
	return t.ID, nil
}

// enqueue puts t on its job's queue, then stores its NotStarted record
// (unless the instance that took it stored one first). The queue message
// comes first: a record always has a message behind it, so no run can be
// left NotStarted with nothing to start it.
func (c *Client) enqueue(ctx context.Context, t trigger) error {
	q, err := c.queue(ctx, t.Job)
	if err != nil {
		return err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if _, err := q.Enqueue(ctx, body, queue.WithID(t.ID)); err != nil {
		if errors.Is(err, queue.ErrBacklogFull) {
			return fmt.Errorf("%w: job %q: %w", ErrTooManyQueued, t.Job, err)
		}
		return fmt.Errorf("jobs: queue a run of %s: %w", t.Job, err)
	}
	r := Run{ID: t.ID, Job: t.Job, Kind: Triggered, Trigger: t.Trigger, State: NotStarted, CreatedAt: t.CreatedAt}
	if _, err := c.st.create(ctx, r); err != nil && !errors.Is(err, errExists) {
		return err
	}
	return nil
}

func (c *Client) queue(ctx context.Context, job string) (*queue.Queue, error) {
	c.mu.Lock()
	q := c.queues[job]
	c.mu.Unlock()
	if q != nil {
		return q, nil
	}
	q, err := c.qc.OpenQueue(ctx, queuePrefix+job)
	if errors.Is(err, queue.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q: no instance has declared its queue", ErrUnknownJob, job)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: open the queue of %s: %w", job, err)
	}
	c.mu.Lock()
	c.queues[job] = q
	c.mu.Unlock()
	return q, nil
}

// active returns a run of job that is queued, running or disconnected.
func (c *Client) active(ctx context.Context, job string) (Run, bool, error) {
	var found Run
	now := time.Now()
	err := c.st.scan(ctx, keyRun+job+".*", func(r record) {
		if !r.State.Terminal() && found.ID == "" {
			found = r.observe(now)
		}
	})
	return found, found.ID != "", err
}

// Get returns the run with the given ID as it stands now, Disconnected
// derived and HasMoreData set. Errors wrap ErrBadRunID or ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (Run, error) {
	if err := CheckRunID(id); err != nil {
		return Run{}, err
	}
	r, err := c.st.get(ctx, id)
	if err != nil {
		return Run{}, err
	}
	run := r.observe(time.Now())
	last, err := c.lastSeq(ctx, id)
	if err != nil {
		return Run{}, err
	}
	cur, _, err := c.cursor(ctx, id)
	if err != nil {
		return Run{}, err
	}
	run.HasMoreData = last > cur
	return run, nil
}

// Filter selects runs for List. The zero value lists every run.
type Filter struct {
	// Job, if set, lists only that job's runs.
	Job string
	// State, if set, lists only runs in that state (Disconnected as
	// derived).
	State State
	// Limit caps the runs returned, newest first; 0 means no limit.
	Limit int
}

// List returns the stored runs that match f, newest first. HasMoreData is
// not set (Get sets it). Errors wrap ErrBadJob for a bad job name.
func (c *Client) List(ctx context.Context, f Filter) ([]Run, error) {
	filter := keyRun + ">"
	if f.Job != "" {
		if err := ValidName(f.Job); err != nil {
			return nil, err
		}
		filter = keyRun + f.Job + ".*"
	}
	if f.State != "" && !f.State.valid() {
		return nil, fmt.Errorf("jobs: unknown state %q (NotStarted, Running, Completed, Failed, Stopped, Disconnected)", f.State)
	}
	now := time.Now()
	var runs []Run
	err := c.st.scan(ctx, filter, func(r record) {
		run := r.observe(now)
		if f.State == "" || run.State == f.State {
			runs = append(runs, run)
		}
	})
	if err != nil {
		return nil, err
	}
	sortNewestFirst(runs)
	if f.Limit > 0 && len(runs) > f.Limit {
		runs = runs[:f.Limit]
	}
	return runs, nil
}

func sortNewestFirst(runs []Run) {
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].CreatedAt.Equal(runs[j].CreatedAt) {
			return runs[i].CreatedAt.After(runs[j].CreatedAt)
		}
		return runs[i].ID > runs[j].ID
	})
}

// Jobs returns the definitions the running instances publish, by name.
func (c *Client) Jobs(ctx context.Context) ([]Definition, error) { return c.st.definitions(ctx) }

// Wait blocks until the run has ended (Completed, Failed or Stopped) and
// returns it, or returns ctx's error. A Disconnected run is waited for
// until it is recorded Failed (Options.FailAfter after its instance went
// silent, once an instance of the fleet is running). Errors wrap
// ErrBadRunID or ErrNotFound.
func (c *Client) Wait(ctx context.Context, id string) (Run, error) {
	if err := CheckRunID(id); err != nil {
		return Run{}, err
	}
	w, err := c.st.kv.Watch(ctx, runKey(id))
	if err != nil {
		return Run{}, fmt.Errorf("jobs: watch run %s: %w", id, err)
	}
	defer w.Stop()
	seen := false
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return Run{}, fmt.Errorf("jobs: watch run %s: watcher closed", id)
			}
			if e == nil {
				if seen {
					continue
				}
				// The watch says its initial values are done without
				// having shown the record. Ask the bucket itself before
				// calling the run unknown: a record stored just before the
				// watch began was once missed here (CI, under load).
				got, err := c.st.kv.Get(ctx, runKey(id))
				if errors.Is(err, jetstream.ErrKeyNotFound) {
					return Run{}, fmt.Errorf("%w: %s", ErrNotFound, id)
				}
				if err != nil {
					return Run{}, fmt.Errorf("jobs: read run %s: %w", id, err)
				}
				e = got
			}
			if e.Operation() != jetstream.KeyValuePut {
				return Run{}, fmt.Errorf("%w: %s (removed while waiting)", ErrNotFound, id)
			}
			seen = true
			r, err := decodeRecord(e)
			if err != nil {
				return Run{}, err
			}
			if r.State.Terminal() {
				return r.observe(time.Now()), nil
			}
		case <-ctx.Done():
			return Run{}, context.Cause(ctx)
		}
	}
}

// Stop asks for the run to stop and returns its record as it stands after
// the request. A queued run is Stopped at once; a running one is stopped
// by the instance running it, the WebJobs way (see the package doc:
// Stopping) — call Wait to see it end. Stopping an ended run changes
// nothing. Errors wrap ErrBadRunID or ErrNotFound.
func (c *Client) Stop(ctx context.Context, id string) (Run, error) {
	if err := CheckRunID(id); err != nil {
		return Run{}, err
	}
	running := false
	r, err := c.st.modify(ctx, id, func(r *Run) bool {
		switch {
		case r.State.Terminal():
			return false
		case r.State == NotStarted:
			r.State, r.EndedAt, r.Error = Stopped, time.Now().UTC(), "stopped before it started"
		default:
			if r.StopRequested {
				running = true
				return false
			}
			r.StopRequested, running = true, true
		}
		return true
	})
	if err != nil {
		return Run{}, err
	}
	if running {
		// Tell the runner at once; without an answer it sees the request
		// in its next heartbeat.
		_, _ = c.st.nc.Request(stopPrefix+id, nil, time.Second)
	}
	return r.observe(time.Now()), nil
}
