package durable

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/worker"
	"github.com/cschleiden/go-workflows/workflow"

	"github.com/cloudrole/cloudrole/durable/internal/jsbackend"
	"github.com/cloudrole/cloudrole/internal/hostctx"
)

// executorTTL is how long an idle orchestration's executor stays cached.
const executorTTL = 30 * time.Second

func (h *Hub) workerOptions() *worker.Options {
	o := worker.DefaultOptions
	queues := make([]workflow.Queue, len(h.opts.Queues))
	for i, q := range h.opts.Queues {
		queues[i] = workflow.Queue(q)
	}
	o.WorkflowQueues, o.ActivityQueues = queues, queues
	o.MaxParallelWorkflowTasks = h.opts.MaxOrchestrations
	o.MaxParallelActivityTasks = h.opts.MaxActivities
	o.WorkflowHeartbeatInterval = h.opts.OrchestratorLease / 3
	o.ActivityHeartbeatInterval = h.opts.ActivityLease / 3
	// The backend waits on the server for tasks: no polling interval is
	// needed, and one would only delay a worker that found none.
	o.WorkflowPollingInterval, o.ActivityPollingInterval = 10*time.Millisecond, 10*time.Millisecond
	o.WorkflowExecutorCache = h.cache
	return &o
}

// Work runs the hub's workers: it takes orchestrator and activity tasks
// of Options.Queues, at most MaxOrchestrations and MaxActivities at a
// time, until ctx ends. Then it stops taking tasks, waits up to
// DrainTimeout for the ones running (a worker that stops mid-task loses
// nothing: the task's lease runs out and another worker, or this one after
// a restart, runs it again), and returns nil, or an error wrapping
// ErrDrainTimeout. Call it from Run (or a supervised task); a hub works
// once.
//
// With a host in ctx, Work shows a "durable:<hub>" status section while it
// runs (HubStatus).
func (h *Hub) Work(ctx context.Context) error {
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		return ErrClosed
	case h.working:
		h.mu.Unlock()
		return fmt.Errorf("%w: the hub's workers are already running (a hub works once)", ErrInvalidOptions)
	}
	h.working = true
	h.mu.Unlock()
	if host := hostctx.From(ctx); host != nil {
		_, remove := host.Status.Add("durable:"+h.opts.Hub, func() any { return h.Figures() })
		defer remove()
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	// Before Start: its pollers may finish a task before it returns, and
	// the status must not show a hub idle that has done work.
	h.wb.running.Store(true)
	if err := h.w.Start(wctx); err != nil {
		h.wb.running.Store(false)
		return fmt.Errorf("durable: hub %q: starting the workers: %w", h.opts.Hub, err)
	}
	h.log.Info("durable: workers started", "queues", h.opts.Queues,
		"max_orchestrations", h.opts.MaxOrchestrations, "max_activities", h.opts.MaxActivities)
	<-ctx.Done()
	h.wb.running.Store(false)
	stop()
	h.b.Release()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.w.WaitForCompletion()
	}()
	t := time.NewTimer(h.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
		h.cache.Close()
		h.log.Info("durable: workers stopped")
		return nil
	case <-t.C:
		h.log.Warn("durable: drain timeout: tasks still running are left to their leases",
			"orchestrator_tasks", h.wb.inOrchestrations.Load(), "activities", h.wb.inActivities.Load(), "timeout", h.opts.DrainTimeout)
		return fmt.Errorf("durable: hub %q: %w after %v", h.opts.Hub, ErrDrainTimeout, h.opts.DrainTimeout)
	}
}

// HubStatus is a hub's section of the host's /status.
type HubStatus struct {
	Hub     string   `json:"hub"`
	Stream  string   `json:"stream"`
	Queues  []string `json:"queues"`
	Working bool     `json:"working"`
	// Orchestrator tasks and activities running now, and done since the
	// hub opened (an activity that returned an error counts as failed).
	OrchestratorTasks     int64 `json:"orchestrator_tasks"`
	OrchestratorTasksDone int64 `json:"orchestrator_tasks_done"`
	Activities            int64 `json:"activities"`
	ActivitiesDone        int64 `json:"activities_done"`
	ActivitiesFailed      int64 `json:"activities_failed"`
	// Lost counts orchestrator tasks another worker completed first (this
	// worker held one past its lease).
	Lost int64 `json:"lost_tasks"`
	// Started counts instances started through this hub.
	Started int64 `json:"started"`
	// LastError is the last error completing a task, if any.
	LastError string `json:"last_error,omitempty"`
	// Orchestrators count executions by orchestrator name (see
	// OrchestratorFigures), for metrics.
	Orchestrators []OrchestratorFigures `json:"orchestrators,omitempty"`
}

// Figures returns the hub's status section.
func (h *Hub) Figures() HubStatus {
	wb := h.wb
	s := HubStatus{
		Hub: h.opts.Hub, Stream: h.b.Stream(), Queues: h.opts.Queues, Working: wb.running.Load(),
		OrchestratorTasks: wb.inOrchestrations.Load(), OrchestratorTasksDone: wb.orchestrationsDone.Load(),
		Activities: wb.inActivities.Load(), ActivitiesDone: wb.activitiesDone.Load(), ActivitiesFailed: wb.activitiesFailed.Load(),
		Lost: wb.lost.Load(), Started: h.stats.started.Load(), Orchestrators: wb.byName.list(),
	}
	if e := wb.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// countingBackend is the hub's backend as its worker sees it: the same,
// with the counters of HubStatus.
type countingBackend struct {
	*jsbackend.Backend
	running                                    atomic.Bool
	inOrchestrations, orchestrationsDone, lost atomic.Int64
	inActivities, activitiesDone               atomic.Int64
	activitiesFailed                           atomic.Int64
	lastErr                                    atomic.Pointer[string]
	byName                                     orchestratorCounts
}

func (c *countingBackend) note(err error) {
	if err != nil {
		s := err.Error()
		c.lastErr.Store(&s)
	}
}

func (c *countingBackend) GetWorkflowTask(ctx context.Context, queues []workflow.Queue) (*backend.WorkflowTask, error) {
	t, err := c.Backend.GetWorkflowTask(ctx, queues)
	if t != nil {
		c.inOrchestrations.Add(1)
	}
	return t, err
}

func (c *countingBackend) CompleteWorkflowTask(ctx context.Context, task *backend.WorkflowTask, state core.WorkflowInstanceState,
	executed, activities, timers []*history.Event, events []*history.WorkflowEvent) error {
	defer c.inOrchestrations.Add(-1)
	err := c.Backend.CompleteWorkflowTask(ctx, task, state, executed, activities, timers, events)
	switch {
	case err == nil:
		c.orchestrationsDone.Add(1)
		c.byName.count(task, state, executed)
	case errors.Is(err, jsbackend.ErrLost):
		c.lost.Add(1)
	default:
		c.note(err)
	}
	return err
}

func (c *countingBackend) GetActivityTask(ctx context.Context, queues []workflow.Queue) (*backend.ActivityTask, error) {
	t, err := c.Backend.GetActivityTask(ctx, queues)
	if t != nil {
		c.inActivities.Add(1)
	}
	return t, err
}

func (c *countingBackend) CompleteActivityTask(ctx context.Context, task *backend.ActivityTask, result *history.Event) error {
	defer c.inActivities.Add(-1)
	err := c.Backend.CompleteActivityTask(ctx, task, result)
	if err != nil {
		c.note(err)
		return err
	}
	c.activitiesDone.Add(1)
	if result.Type == history.EventType_ActivityFailed {
		c.activitiesFailed.Add(1)
	}
	return nil
}

// funcName is the name go-workflows registers a function under: the last
// element of its qualified name, without a method value's "-fm".
func funcName(fn any) string {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return fmt.Sprintf("%T", fn)
	}
	name := runtime.FuncForPC(v.Pointer()).Name()
	name = name[strings.LastIndexByte(name, '.')+1:]
	return strings.TrimSuffix(name, "-fm")
}
