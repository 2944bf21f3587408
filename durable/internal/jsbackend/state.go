package jsbackend

import (
	"context"
	"fmt"

	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"
)

// view is an instance as read at one moment: its latest snapshot and every
// message of its log after the snapshot's cursor.
type view struct {
	inst    string
	snapSeq uint64    // the message holding snap; 0 if the instance has none
	snap    *snapshot // resolved (see snapshot.resolve); nil if none
	entry   *entry    // the body of that message
	msgs    []*rawMsg // the log after snap.Cursor, in order
	last    uint64    // the last sequence of the whole log: what a write expects
}

// loadView reads inst's state. hint, if not nil, is a snapshot-bearing
// message of inst already in hand (a delivered task): the read then starts
// at its cursor instead of looking up the latest snapshot first.
func (b *Backend) loadView(ctx context.Context, inst string, hint *rawMsg) (*view, error) {
	v := &view{inst: inst}
	start := hint
	if start == nil {
		m, err := b.st.last(ctx, b.n.snaps(inst))
		if err != nil {
			return nil, err
		}
		if m == nil {
			// No snapshot: no instance, but the log may hold strays (a timer
			// that fired after its instance was removed).
			any, err := b.st.last(ctx, b.n.log(inst))
			if err != nil {
				return nil, err
			}
			if any != nil {
				v.last = any.Seq
			}
			return v, nil
		}
		start = m
	}
	e, err := decodeEntry(start.Data)
	if err != nil || e.Snap == nil {
		return nil, fmt.Errorf("jsbackend: instance %q: bad snapshot at %d: %v", inst, start.Seq, err)
	}
	msgs, err := b.st.scan(ctx, b.n.log(inst), e.Snap.Cursor+1)
	if err != nil {
		return nil, err
	}
	v.snapSeq, v.snap, v.entry = start.Seq, e.Snap, e
	v.snap.resolve(start.Seq)
	v.last = start.Seq
	found := false
	for _, m := range msgs {
		v.last = max(v.last, m.Seq)
		found = found || m.Seq == start.Seq
		if m.Seq <= v.snapSeq {
			continue
		}
		ls, err := b.n.parse(m.Subject)
		if err != nil || ls.kind != "m" {
			continue
		}
		ne, err := decodeEntry(m.Data)
		if err != nil || ne.Snap == nil {
			return nil, fmt.Errorf("jsbackend: instance %q: bad snapshot at %d: %v", inst, m.Seq, err)
		}
		v.snapSeq, v.snap, v.entry = m.Seq, ne.Snap, ne
		v.snap.resolve(m.Seq)
	}
	if !found {
		// The snapshot in hand is gone: the execution was removed.
		return b.loadView(ctx, inst, nil)
	}
	// Keep what lies after the latest cursor.
	keep := msgs[:0]
	for _, m := range msgs {
		if m.Seq > v.snap.Cursor {
			keep = append(keep, m)
		}
	}
	v.msgs = keep
	return v, nil
}

// active reports whether the view holds a running execution exec (any
// execution if exec is "").
func (v *view) active(exec string) bool {
	return v.snap != nil && v.snap.State == core.WorkflowInstanceStateActive &&
		(exec == "" || v.snap.Instance.ExecutionID == exec)
}

// pending is an event message not yet given to a workflow task.
type pending struct {
	seq   uint64
	entry *entry
}

// pendingEvents returns the events of the current execution after the
// cursor, in order: what the next workflow task executes.
func (b *Backend) pendingEvents(v *view) ([]pending, error) {
	if v.snap == nil {
		return nil, nil
	}
	exec := v.snap.Instance.ExecutionID
	var out []pending
	for _, m := range v.msgs {
		ls, err := b.n.parse(m.Subject)
		if err != nil || ls.exec != exec {
			continue
		}
		if ls.kind != "v" && !(ls.kind == "m" && ls.sub == "p") {
			continue
		}
		e, err := decodeEntry(m.Data)
		if err != nil {
			return nil, fmt.Errorf("jsbackend: instance %q: bad event at %d: %w", v.inst, m.Seq, err)
		}
		if len(e.Events) > 0 {
			out = append(out, pending{seq: m.Seq, entry: e})
		}
	}
	return out, nil
}

// currentTask reports whether the message at seq is the instance's
// current workflow task. While queued, that is the task the snapshot
// names. While idle, it is the first event not yet given to a task: an
// event is a plain append (it needs no compare-and-set), so one that lands
// just after a task went idle wakes the instance by itself.
func (b *Backend) currentTask(v *view, seq uint64) (bool, error) {
	if !v.active("") {
		return false, nil
	}
	if v.snap.Queued {
		return v.snap.Task == seq, nil
	}
	p, err := b.pendingEvents(v)
	if err != nil {
		return false, err
	}
	return len(p) > 0 && p[0].seq == seq, nil
}

// eventsOf flattens pending entries into one event list, dropping a
// repeated activity result (the same activity answered twice, from a
// worker that lost its lease but finished anyway).
func eventsOf(p []pending) []*history.Event {
	var out []*history.Event
	seen := map[string]bool{}
	for _, e := range p {
		if id := e.entry.ActivityID; id != "" {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		out = append(out, e.entry.Events...)
	}
	return out
}
