package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/client"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/registry"
	"github.com/cschleiden/go-workflows/worker"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/durable/internal/excache"
	"github.com/cloudrole/cloudrole/durable/internal/jsbackend"
	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/queue"
)

// Hub is one task hub: the orchestrations stored in one JetStream stream,
// the orchestrators and activities this process registers for them, and
// the client calls (start, status, raise an event, terminate, purge,
// list). Make one with Open; its methods are safe for concurrent use.
type Hub struct {
	opts  Options
	log   *slog.Logger
	b     *jsbackend.Backend
	wb    *countingBackend // what the worker uses: b, with counters
	cache *excache.Cache
	c     *client.Client
	w     *worker.Worker

	mu            sync.Mutex
	orchestrators map[string]any // registered, by name
	activities    map[string]bool
	working       bool
	closed        bool
	stats         hubCounters
}

type hubCounters struct {
	started atomic.Int64 // instances started through this hub
}

// Open connects to the hub's stream, creating it if absent (unless
// Options.NoCreate). With no
// Options.Conn it uses the role's NATS connection: queue.Connect(ctx), so
// call it from a hook (OnStart) or a route handler, whose context carries
// the provider. Close releases it.
func Open(ctx context.Context, opts Options) (*Hub, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	log := hostctx.Logger(ctx, o.Logger).With("hub", o.Hub)
	nc := o.Conn
	var synced func(context.Context) error
	if nc == nil {
		qc, err := queue.Connect(ctx)
		if err != nil {
			return nil, fmt.Errorf("durable: hub %q: %w", o.Hub, err)
		}
		// The role's embedded server may sync through a group commit:
		// a history write counts as stored once that has it on disk.
		nc, synced = qc.Conn(), qc.Synced
	}
	h := &Hub{opts: o, log: log, cache: excache.New(o.ExecutorCache, executorTTL),
		orchestrators: map[string]any{}, activities: map[string]bool{}}
	bopts := []backend.BackendOption{
		backend.WithLogger(log),
		backend.WithWorkflowLockTimeout(o.OrchestratorLease),
		backend.WithActivityLockTimeout(o.ActivityLease),
	}
	if !o.KeepContinuedAsNew {
		bopts = append(bopts, backend.WithRemoveContinuedAsNewInstances())
	}
	h.b, err = jsbackend.New(ctx, nc, jsbackend.Options{
		Namespace: o.Hub,
		Replicas:  o.Replicas,
		MaxWait:   o.wait,
		// A worker whose task was taken over must not keep the executor
		// that ran ahead of the stored history.
		OnLost:   func(i *core.WorkflowInstance) { _ = h.cache.Evict(context.Background(), i) },
		NoCreate: o.NoCreate,
		Synced:   synced,
	}, bopts...)
	if o.NoCreate && errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("durable: hub %q: %w", o.Hub, ErrNoHub)
	}
	if err != nil {
		return nil, fmt.Errorf("durable: hub %q: %w", o.Hub, err)
	}
	h.wb = &countingBackend{Backend: h.b}
	h.c = client.New(h.b)
	h.w = worker.New(h.wb, h.workerOptions())
	return h, nil
}

// Name is the hub's name.
func (h *Hub) Name() string { return h.opts.Hub }

// Backend is the go-workflows backend of the hub, for go-workflows' own
// client, worker and diagnostics (diag.NewServeMux): the hub's stream,
// used the way the hub uses it.
func (h *Hub) Backend() backend.Backend { return h.b }

// Close stops the hub's backend: fetching stops, tasks fetched but not
// started are handed back. It does not close the NATS connection. Call it
// after Work has returned. Calling it again does nothing.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.cache.Close()
	return h.b.Close()
}

// RegisterOption qualifies a registration.
type RegisterOption func(*registerConfig)

type registerConfig struct{ name string }

// WithName registers an orchestrator or activity under name rather than
// its function's name. Start, and the activities an orchestrator calls by
// name, use that name.
func WithName(name string) RegisterOption {
	return func(c *registerConfig) { c.name = name }
}

// RegisterOrchestrator registers an orchestrator: a go-workflows workflow,
// func(workflow.Context, inputs...) (result, error), deterministic (see
// the package documentation). Register before Work; every process that
// works the hub's queues registers the same ones.
func (h *Hub) RegisterOrchestrator(fn any, opts ...RegisterOption) error {
	name, ropts := register(fn, opts)
	if err := h.w.RegisterWorkflow(fn, ropts...); err != nil {
		return fmt.Errorf("durable: register orchestrator %q: %w", name, err)
	}
	h.mu.Lock()
	h.orchestrators[name] = fn
	h.mu.Unlock()
	return nil
}

// RegisterActivity registers an activity: func(context.Context,
// inputs...) (result, error), or a pointer to a struct whose methods are
// activities. Activities run at least once: make their effects idempotent
// (a crash between the effect and the record of the result runs it
// again).
func (h *Hub) RegisterActivity(fn any, opts ...RegisterOption) error {
	name, ropts := register(fn, opts)
	if err := h.w.RegisterActivity(fn, ropts...); err != nil {
		return fmt.Errorf("durable: register activity %q: %w", name, err)
	}
	h.mu.Lock()
	h.activities[name] = true
	h.mu.Unlock()
	return nil
}

func register(fn any, opts []RegisterOption) (string, []registry.RegisterOption) {
	var c registerConfig
	for _, o := range opts {
		o(&c)
	}
	if c.name == "" {
		return funcName(fn), nil
	}
	return c.name, []registry.RegisterOption{registry.WithName(c.name)}
}
