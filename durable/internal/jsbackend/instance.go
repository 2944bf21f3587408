package jsbackend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go"
)

// CreateWorkflowInstance starts an execution of instance. It fails with
// backend.ErrInstanceAlreadyExists while another execution of the same
// instance ID is running: the start is one compare-and-set on the
// instance's log, so of concurrent starters exactly one wins.
func (b *Backend) CreateWorkflowInstance(ctx context.Context, instance *workflow.Instance, event *history.Event) error {
	a, ok := event.Attributes.(*history.ExecutionStartedAttributes)
	if !ok {
		return fmt.Errorf("jsbackend: create %q: the first event is %v, not a start", instance.InstanceID, event.Type)
	}
	queue := string(a.Queue)
	if queue == "" {
		queue = string(workflow.QueueDefault)
	}
	for attempt := 0; ; attempt++ {
		v, err := b.loadView(ctx, instance.InstanceID, nil)
		if err != nil {
			return err
		}
		if v.active("") {
			if v.snap.Instance.ExecutionID == instance.ExecutionID {
				return nil // our own start, whose answer was lost
			}
			return backend.ErrInstanceAlreadyExists
		}
		s, err := newSnapshot(instance, queue, a, []*history.Event{event})
		if err != nil {
			return err
		}
		e := &entry{Instance: instance.InstanceID, Exec: instance.ExecutionID, Snap: s}
		m, err := b.casMsg(b.n.start(instance.InstanceID, instance.ExecutionID, queue), instance.InstanceID, v.last, e)
		if err != nil {
			return err
		}
		if _, err := b.st.publish(ctx, m); err != nil {
			if errors.Is(err, errConflict) && attempt < maxAttempts {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("jsbackend: create %q: %w", instance.InstanceID, err)
		}
		return nil
	}
}

// newSnapshot is the state of a new execution started by events (the
// start event first).
func newSnapshot(instance *workflow.Instance, queue string, a *history.ExecutionStartedAttributes, events []*history.Event) (*snapshot, error) {
	pending, err := encodeEvents(events)
	if err != nil {
		return nil, err
	}
	return &snapshot{
		Instance:  instance,
		Queue:     queue,
		Name:      a.Name,
		State:     core.WorkflowInstanceStateActive,
		CreatedAt: time.Now().UTC(),
		Metadata:  a.Metadata,
		Pending:   pending,
		Queued:    true,
	}, nil
}

// execSnapshot returns the latest snapshot of one execution and the
// message holding it, or backend.ErrInstanceNotFound.
func (b *Backend) execSnapshot(ctx context.Context, instance *core.WorkflowInstance) (*snapshot, *view, *rawMsg, error) {
	m, err := b.st.last(ctx, b.n.execSnaps(instance.InstanceID, instance.ExecutionID))
	if err != nil {
		return nil, nil, nil, err
	}
	if m == nil {
		return nil, nil, nil, backend.ErrInstanceNotFound
	}
	v := &view{inst: instance.InstanceID}
	if err := v.setSnapshot(b.n, m); err != nil {
		return nil, nil, nil, err
	}
	return v.snap, v, m, nil
}

// GetWorkflowInstanceState returns the state of one execution. Clients
// poll it while they wait: it reads the state from a header of the
// execution's last snapshot, without decoding the snapshot.
func (b *Backend) GetWorkflowInstanceState(ctx context.Context, instance *workflow.Instance) (core.WorkflowInstanceState, error) {
	m, err := b.st.last(ctx, b.n.execSnaps(instance.InstanceID, instance.ExecutionID))
	if err != nil {
		return core.WorkflowInstanceStateActive, err
	}
	if m == nil {
		return core.WorkflowInstanceStateActive, backend.ErrInstanceNotFound
	}
	if st, err := strconv.Atoi(m.Header.Get(stateHeader)); err == nil {
		return core.WorkflowInstanceState(st), nil
	}
	v := &view{inst: instance.InstanceID}
	if err := v.setSnapshot(b.n, m); err != nil {
		return core.WorkflowInstanceStateActive, err
	}
	return v.snap.State, nil
}

// GetWorkflowInstanceHistory returns one execution's history after
// lastSequenceID (all of it if nil): the events of its commits, read from
// the latest commit back along the chain, only as far as needed.
func (b *Backend) GetWorkflowInstanceHistory(ctx context.Context, instance *workflow.Instance, lastSequenceID *int64) ([]*history.Event, error) {
	_, v, _, err := b.execSnapshot(ctx, instance)
	if errors.Is(err, backend.ErrInstanceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var after int64
	if lastSequenceID != nil {
		after = *lastSequenceID
	}
	next := v.latestCommit
	var chunks [][]*history.Event
	for next != 0 {
		cm, err := b.st.bySeq(ctx, next)
		if err != nil {
			return nil, err
		}
		if cm == nil {
			return nil, fmt.Errorf("jsbackend: instance %q: commit %d is missing", instance.InstanceID, next)
		}
		ce, err := decodeEntry(cm.Data)
		if err != nil || ce.Snap == nil {
			return nil, fmt.Errorf("jsbackend: instance %q: bad commit at %d: %v", instance.InstanceID, next, err)
		}
		chunks = append(chunks, ce.History)
		if len(ce.History) > 0 && ce.History[0].SequenceID <= after+1 {
			break
		}
		next = ce.Snap.LastCommit
	}
	var out []*history.Event
	for i := len(chunks) - 1; i >= 0; i-- {
		for _, ev := range chunks[i] {
			if ev.SequenceID > after {
				out = append(out, ev)
			}
		}
	}
	return out, nil
}

// SignalWorkflow delivers event to the running execution of instanceID,
// or fails with backend.ErrInstanceNotFound if none runs.
func (b *Backend) SignalWorkflow(ctx context.Context, instanceID string, event *history.Event) error {
	return b.appendEvents(ctx, instanceID, "", []*history.Event{event}, appendOpts{msgID: "g." + event.ID, absent: backend.ErrInstanceNotFound})
}

// CancelWorkflowInstance asks a running execution to cancel. It fails with
// backend.ErrInstanceNotFound for an unknown one and does nothing for one
// that has finished.
func (b *Backend) CancelWorkflowInstance(ctx context.Context, instance *workflow.Instance, event *history.Event) error {
	if _, _, _, err := b.execSnapshot(ctx, instance); err != nil {
		return err
	}
	return b.appendEvents(ctx, instance.InstanceID, instance.ExecutionID, []*history.Event{event}, appendOpts{msgID: "c." + event.ID})
}

// appendOpts qualify an appendEvents.
type appendOpts struct {
	msgID    string // a repeat with the same ID is dropped by the server
	activity string // the events answer this activity: dropped unless it awaits a result
	timer    int64  // the events fire this timer: dropped unless it is pending
	// absent is returned when the execution is not running (nil: the
	// events are dropped).
	absent error
	// takeTask makes the message at this sequence (a fired timer) the
	// instance's task if it was idle.
	takeTask uint64
	// seen is a message of the log that asked for the events (the
	// activity's task, the fired timer): the read they are added on must
	// reach it (loadViewSeen).
	seen uint64
}

// appendResult says what an appendEvents did.
type appendResult struct {
	seq  uint64    // the message written; 0 if nothing was
	snap *snapshot // its snapshot (resolved)
	took bool      // opts.takeTask became the current task
}

// appendReq is one call's events, waiting to be written with others for
// the same instance.
type appendReq struct {
	exec   string
	events []*history.Event
	opts   appendOpts
	err    error
	done   chan struct{}
}

// appendEvents adds events to the pending events of exec (the running
// execution if ""), with a compare-and-set on the instance's log, and
// makes the message the instance's task if it was idle.
//
// Calls for the same instance at the same time are combined into one
// write: many results of one fan-out arriving together would otherwise
// contend for the log one compare-and-set at a time. The first call
// writes what every call queued meanwhile, and repeats while more come.
func (b *Backend) appendEvents(ctx context.Context, inst, exec string, events []*history.Event, opts appendOpts) error {
	r := &appendReq{exec: exec, events: events, opts: opts, done: make(chan struct{})}
	b.amu.Lock()
	q, busy := b.appending[inst]
	b.appending[inst] = append(q, r)
	b.amu.Unlock()
	if busy {
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return ctx.Err() // the write may still happen, as after any timeout
		}
	}
	// This call writes: its own events and whatever queues up meanwhile,
	// even if its caller gives up (the others wait for it).
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.RequestTimeout)
	defer cancel()
	for {
		b.amu.Lock()
		reqs := b.appending[inst]
		if len(reqs) == 0 {
			delete(b.appending, inst)
			b.amu.Unlock()
			break
		}
		b.appending[inst] = []*appendReq{}
		b.amu.Unlock()
		err := b.writeAppends(wctx, inst, reqs)
		for _, q := range reqs {
			if err != nil {
				q.err = err
			}
			close(q.done)
		}
	}
	<-r.done
	return r.err
}

// writeAppends writes reqs in one compare-and-set, retrying on conflict.
func (b *Backend) writeAppends(ctx context.Context, inst string, reqs []*appendReq) error {
	seen := uint64(0)
	for _, r := range reqs {
		seen = max(seen, r.opts.seen)
	}
	for attempt := 0; ; attempt++ {
		v, err := b.loadViewSeen(ctx, inst, nil, seen)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			r.err = nil
		}
		m, _, _, err := b.appendMsgFor(v, reqs)
		if err != nil || m == nil {
			return err
		}
		if _, err := b.st.publish(ctx, m); err != nil {
			if errors.Is(err, errConflict) && attempt < maxAttempts {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("jsbackend: deliver %v to %q: %w", reqs[0].events[0].Type, inst, err)
		}
		return nil
	}
}

// appendEventsResult adds events alone (not combined) and reports what it
// wrote: a fired timer that may become the task.
func (b *Backend) appendEventsResult(ctx context.Context, inst, exec string, events []*history.Event, opts appendOpts) (appendResult, error) {
	for attempt := 0; ; attempt++ {
		v, err := b.loadViewSeen(ctx, inst, nil, opts.seen)
		if err != nil {
			return appendResult{}, err
		}
		r := &appendReq{exec: exec, events: events, opts: opts}
		m, s, took, err := b.appendMsgFor(v, []*appendReq{r})
		if err == nil {
			err = r.err
		}
		if err != nil || m == nil {
			return appendResult{}, err
		}
		ack, err := b.st.publish(ctx, m)
		if err != nil {
			if errors.Is(err, errConflict) && attempt < maxAttempts {
				if err := backoff(ctx, attempt); err != nil {
					return appendResult{}, err
				}
				continue
			}
			return appendResult{}, fmt.Errorf("jsbackend: deliver %v to %q: %w", events[0].Type, inst, err)
		}
		s.resolve(ack.Seq)
		return appendResult{seq: ack.Seq, snap: s, took: took}, nil
	}
}

// appendMsg is the message that adds events to the view's execution, or
// nil (with opts.absent) if they are not to be added.
func (b *Backend) appendMsg(v *view, exec string, events []*history.Event, opts appendOpts) (*nats.Msg, *snapshot, bool, error) {
	r := &appendReq{exec: exec, events: events, opts: opts}
	m, s, took, err := b.appendMsgFor(v, []*appendReq{r})
	if err == nil {
		err = r.err
	}
	return m, s, took, err
}

// appendMsgFor is the message that adds the events of reqs that apply to
// the view's execution; each req not added gets its outcome in err (its
// opts.absent, or nil for a repeat that is dropped). It is nil if none
// applies.
func (b *Backend) appendMsgFor(v *view, reqs []*appendReq) (*nats.Msg, *snapshot, bool, error) {
	var s *snapshot
	var add []*history.Event
	var ids []string
	take := uint64(0)
	for _, r := range reqs {
		if !v.active(r.exec) {
			r.err = r.opts.absent
			continue
		}
		if s == nil {
			s = v.next()
		}
		var ok bool
		if r.opts.activity != "" {
			if s.Activities, ok = remove(s.Activities, r.opts.activity); !ok {
				continue // its result is in already
			}
		}
		if r.opts.timer != 0 {
			if s.Timers, ok = remove(s.Timers, r.opts.timer); !ok {
				continue // fired already, or cancelled
			}
		}
		add = append(add, r.events...)
		ids = append(ids, r.opts.msgID)
		if r.opts.takeTask != 0 {
			take = r.opts.takeTask
		}
	}
	if len(add) == 0 {
		return nil, nil, false, nil
	}
	raw, err := encodeEvents(add)
	if err != nil {
		return nil, nil, false, err
	}
	s.Pending = append(s.Pending, raw...)
	route, took := routeNone(), false
	if !s.Queued {
		s.Queued = true
		if take != 0 {
			s.Task, took = take, true
		} else {
			s.Task, route = 0, routeTask(s.Queue)
		}
	}
	inst, ex := v.inst, s.Instance.ExecutionID
	m, err := b.casMsg(b.n.append(inst, ex, route), inst, v.last, &entry{Instance: inst, Exec: ex, Snap: s})
	if err != nil {
		return nil, nil, false, err
	}
	if len(ids) == 1 && ids[0] != "" {
		// A combined write carries no ID: the awaited activities and
		// timers drop repeats of results and firings exactly anyway.
		dedupe(m, ids[0])
	}
	return m, s, took, nil
}

// maxAttempts bounds the retries of a write that lost a race.
const maxAttempts = 500

// backoff waits before attempt+1 of a write that lost a race: no wait at
// first, then growing to about 50 ms, with jitter so that racing writers
// spread out.
func backoff(ctx context.Context, attempt int) error {
	if attempt < 1 {
		return ctx.Err()
	}
	d := time.Duration(1<<min(attempt-1, 6)) * time.Millisecond
	d = d/2 + time.Duration(jitter(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
