package tasks

import (
	"context"
	"fmt"
	"time"
)

type beatKey struct{}

// Beat reports that the task running with ctx (or a context derived from
// it) is alive; a task with StallAfter must call it more often than its
// limit. It is cheap (one clock read and one atomic store), never blocks,
// and does nothing when ctx does not belong to a task.
func Beat(ctx context.Context) {
	if t, ok := ctx.Value(beatKey{}).(*task); ok {
		t.lastBeat.Store(t.g.s.clock.Now().UnixNano())
	}
}

// onStallTimer runs when a run may have been silent for stallAfter. The
// timer is armed once per run and re-armed here for the time left since the
// last Beat, so Beat itself never touches a timer.
func (t *task) onStallTimer() {
	g := t.g
	if !g.enter() {
		return
	}
	defer g.leave()
	now := g.s.clock.Now()
	t.mu.Lock()
	if !t.running || t.stalled {
		t.mu.Unlock()
		return
	}
	last := t.runStart
	if b := t.lastBeat.Load(); b > last.UnixNano() {
		last = time.Unix(0, b)
	}
	silent := now.Sub(last)
	if silent < t.stallAfter {
		t.stallTimer.Reset(t.stallAfter - silent)
		t.mu.Unlock()
		return
	}
	t.stalled, t.state = true, StateStalled
	cause := fmt.Errorf("%w: task %q silent for %v (limit %v)", ErrStalled, t.name, silent, t.stallAfter)
	cancel := t.cancelRun
	t.armGraceLocked(cause)
	t.mu.Unlock()

	g.log.Warn("task stalled; cancelling it", "task", t.name, "silent", silent, "limit", t.stallAfter)
	g.emit(EventStall{Group: g.s.name, Task: t.name, Silent: silent})
	cancel(cause)
}

// armGraceLocked starts the grace period of a run the group is cancelling
// while the group goes on (stall, lost lease). t.mu must be held.
func (t *task) armGraceLocked(cause error) {
	if t.graceTimer != nil {
		return
	}
	seq := t.runSeq
	t.graceTimer = t.g.s.clock.AfterFunc(t.g.s.grace, func() { t.onGrace(seq, cause) })
}

// onGrace escalates a run that is still running grace after the group
// cancelled it: goroutines cannot be killed, so the group ends (and the role
// recycles) without waiting for it.
func (t *task) onGrace(seq uint64, cause error) {
	g := t.g
	if !g.enter() {
		return
	}
	defer g.leave()
	t.mu.Lock()
	stuck := t.running && t.runSeq == seq
	t.mu.Unlock()
	if !stuck || !g.abandon(t) {
		return
	}
	g.log.Error("task ignored cancellation; abandoning it", "task", t.name, "grace", g.s.grace, "cause", cause)
	g.fail(&FatalError{Task: t.name, Err: fmt.Errorf("%w: still running %v after it was cancelled: %w",
		ErrAbandoned, g.s.grace, cause)})
}
