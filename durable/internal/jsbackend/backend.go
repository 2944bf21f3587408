package jsbackend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/metrics"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel/trace"
)

// Options configure a Backend. The zero value is usable.
type Options struct {
	// Namespace names the stream (DURABLE_<Namespace>) and subjects
	// (durable.<Namespace>.>); backends with different namespaces share
	// nothing. Defaults to "default".
	Namespace string
	// Replicas of the stream: 1 for a single server, 3 to survive the loss
	// of a server on a cluster. Defaults to 1. An existing stream keeps
	// the replicas it has.
	Replicas int
	// DuplicateWindow is how long the server remembers the IDs of events
	// (signals, activity results) to drop a repeated one. Defaults to 10
	// minutes; it should exceed the activity lock timeout.
	DuplicateWindow time.Duration
	// MaxWait bounds how long one pull request for a task waits on the
	// server. Defaults to 2 seconds.
	MaxWait time.Duration
	// RequestTimeout bounds a request to the server when the caller's
	// context has no deadline. Defaults to 10 seconds.
	RequestTimeout time.Duration
	// AnswerTimeout is how long a request waits for its answer before it
	// is sent again, within RequestTimeout or the caller's deadline: a
	// request sent while the stream's leader changes, or to a server that
	// is shutting down, is never answered, and waiting out the whole
	// deadline stalled every worker for 30 s (go-workflows gives a task
	// fetch 30 s). Defaults to 1 second; the server answers in
	// milliseconds.
	AnswerTimeout time.Duration
	// OnLost, if set, is called when CompleteWorkflowTask finds that its
	// task is no longer the instance's current one: a worker's cached
	// executor of that instance ran ahead of the stored history and must
	// be dropped.
	OnLost func(*core.WorkflowInstance)
	// NoCreate opens the stream only if it exists, as it is (neither
	// created nor updated): New fails with an error wrapping
	// jetstream.ErrStreamNotFound otherwise. For a reader (a console)
	// that must leave nothing behind on a NATS without orchestrations.
	NoCreate bool
	// Synced, if set, is called after every acknowledged write, before the
	// write is reported stored: it returns once that write is on disk (a
	// server whose writes are synced by a group commit outside it, as
	// cloudrole's embedded server under sync "always"). Nil: the server's
	// acknowledgement is enough.
	Synced func(context.Context) error
}

func (o *Options) defaults() {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 10 * time.Minute
	}
	if o.MaxWait == 0 {
		o.MaxWait = 2 * time.Second
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.AnswerTimeout == 0 {
		o.AnswerTimeout = time.Second
	}
}

// Backend is a go-workflows backend on one JetStream stream. See the
// package documentation for how it stores instances and why a crash never
// leaves half a workflow task.
type Backend struct {
	opts  Options
	bopts *backend.Options
	n     names
	js    jetstream.JetStream
	st    *store

	// The task pullers, made on the first Get*Task: a backend that only
	// serves a client runs no goroutine.
	workflows, activities *puller

	amu       sync.Mutex
	appending map[string][]*appendReq // appends queued, by instance (see appendEvents)

	mu       sync.Mutex
	prepared map[string]bool             // consumers created, by name
	running  map[string]*runningActivity // activity tasks handed out, by task ID
	closed   bool
}

// runningActivity is an activity task handed to a worker: its message,
// to heartbeat and acknowledge.
type runningActivity struct {
	m   *nats.Msg
	seq uint64 // m's stream sequence
	a   *activityTask
	at  time.Time
}

var (
	_ backend.Backend = (*Backend)(nil)

	errClosed = errors.New("jsbackend: closed")
)

// New creates or updates the stream and returns a backend on it. The
// connection stays the caller's: Close does not close it.
func New(ctx context.Context, nc *nats.Conn, opts Options, bopts ...backend.BackendOption) (*Backend, error) {
	opts.defaults()
	n, err := newNames(opts.Namespace)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: %w", err)
	}
	cfg := jetstream.StreamConfig{
		Name:        n.stream,
		Description: "cloudrole durable orchestrations (go-workflows)",
		Subjects:    []string{n.all()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		Discard:     jetstream.DiscardOld,
		Duplicates:  opts.DuplicateWindow,
		// Rollups replace a timer's schedule (to cancel it); the server
		// requires them for schedules.
		AllowRollup:        true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		AllowMsgSchedules:  true,
	}
	var info *jetstream.StreamInfo
	if opts.NoCreate {
		s, err := js.Stream(ctx, cfg.Name)
		if err != nil {
			return nil, fmt.Errorf("jsbackend: stream %s: %w", cfg.Name, err)
		}
		info = s.CachedInfo()
	} else if info, err = ensureStream(ctx, js, cfg); err != nil {
		return nil, err
	}
	b := &Backend{
		opts:      opts,
		bopts:     backend.ApplyOptions(bopts...),
		n:         n,
		js:        js,
		st:        &store{nc: nc, stream: n.stream, direct: info.Config.Replicas <= 1, reqTimeout: opts.RequestTimeout, answerWait: opts.AnswerTimeout, synced: opts.Synced},
		prepared:  map[string]bool{},
		appending: map[string][]*appendReq{},
		running:   map[string]*runningActivity{},
	}
	return b, nil
}

// ensureStream creates the stream, or updates one that lacks a feature
// the backend needs, keeping its replicas and limits.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (*jetstream.StreamInfo, error) {
	s, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, cfg)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("jsbackend: create stream %s: %w", cfg.Name, err)
		}
		if err != nil {
			s, err = js.Stream(ctx, cfg.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jsbackend: stream %s: %w", cfg.Name, err)
	}
	info := s.CachedInfo()
	have := info.Config
	if have.AllowRollup && have.AllowDirect && have.AllowAtomicPublish && have.AllowMsgSchedules &&
		slices.Equal(have.Subjects, cfg.Subjects) && have.Duplicates >= cfg.Duplicates {
		return info, nil
	}
	have.AllowRollup, have.AllowDirect, have.AllowAtomicPublish, have.AllowMsgSchedules = true, true, true, true
	have.DenyPurge = false
	have.Subjects = cfg.Subjects
	have.Duplicates = max(have.Duplicates, cfg.Duplicates)
	s, err = js.UpdateStream(ctx, have)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: update stream %s: %w", cfg.Name, err)
	}
	return s.CachedInfo(), nil
}

// Stream is the name of the backend's stream.
func (b *Backend) Stream() string { return b.n.stream }

// Close stops fetching tasks and releases the ones fetched but not handed
// out. It does not close the connection. Calling it again does nothing.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	w, a := b.workflows, b.activities
	b.mu.Unlock()
	for _, p := range []*puller{w, a} {
		if p != nil {
			p.close()
		}
	}
	return nil
}

// Release hands back the tasks fetched and not given to a worker, and those
// that still arrive until the next Get*Task: call it when a worker stops
// taking tasks while the backend stays open, so that another worker gets
// them now rather than after their lease.
func (b *Backend) Release() {
	b.mu.Lock()
	w, a := b.workflows, b.activities
	b.mu.Unlock()
	for _, p := range []*puller{w, a} {
		if p != nil {
			p.release()
		}
	}
}

// puller returns the workflow or activity task puller, made on first use.
func (b *Backend) puller(workflows bool) (*puller, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	if workflows {
		if b.workflows == nil {
			b.workflows = newPuller(b.st.nc, b.n.stream, workflowConsumer, b.opts.MaxWait, b.bopts.WorkflowLockTimeout/2)
		}
		return b.workflows, nil
	}
	if b.activities == nil {
		b.activities = newPuller(b.st.nc, b.n.stream, activityConsumer, b.opts.MaxWait, b.bopts.ActivityLockTimeout/2)
	}
	return b.activities, nil
}

// Options returns the backend options (logger, converter, lock timeouts,
// ...). go-workflows reads and, in its tests, changes them.
func (b *Backend) Options() *backend.Options { return b.bopts }

// Tracer returns the tracer of the configured provider.
func (b *Backend) Tracer() trace.Tracer { return b.bopts.TracerProvider.Tracer(backend.TracerName) }

// Metrics returns the configured metrics client, tagged with this backend.
func (b *Backend) Metrics() metrics.Client {
	return b.bopts.Metrics.WithTags(metrics.Tags{"backend": "jetstream"})
}

// FeatureSupported reports every go-workflows feature as supported: the
// backend removes finished instances (RemoveWorkflowInstances), which is
// what auto-expiration runs.
func (b *Backend) FeatureSupported(backend.Feature) bool { return true }

// PrepareWorkflowQueues creates the workflow task consumers of queues.
func (b *Backend) PrepareWorkflowQueues(ctx context.Context, queues []workflow.Queue) error {
	for _, q := range queues {
		if err := b.prepare(ctx, workflowConsumer(string(q)), b.n.workflowFilters(string(q)), b.bopts.WorkflowLockTimeout); err != nil {
			return err
		}
	}
	return nil
}

// PrepareActivityQueues creates the activity task consumers of queues.
func (b *Backend) PrepareActivityQueues(ctx context.Context, queues []workflow.Queue) error {
	for _, q := range queues {
		if err := b.prepare(ctx, activityConsumer(string(q)), b.n.activityFilters(string(q)), b.bopts.ActivityLockTimeout); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) prepare(ctx context.Context, name string, filters []string, lock time.Duration) error {
	b.mu.Lock()
	done := b.prepared[name]
	b.mu.Unlock()
	if done {
		return nil
	}
	_, err := b.js.CreateOrUpdateConsumer(ctx, b.n.stream, jetstream.ConsumerConfig{
		Durable:        name,
		Description:    "cloudrole durable task queue",
		FilterSubjects: filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		// The lease is go-workflows' lock timeout: a task whose worker
		// stops heartbeating is given to another after it.
		AckWait:       lock,
		MaxDeliver:    -1,
		MaxAckPending: -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("jsbackend: consumer %s: %w", name, err)
	}
	b.mu.Lock()
	b.prepared[name] = true
	b.mu.Unlock()
	return nil
}

func queueNames(queues []workflow.Queue) []string {
	out := make([]string, len(queues))
	for i, q := range queues {
		out[i] = string(q)
	}
	return out
}

func newID() string { return nuid.Next() }
