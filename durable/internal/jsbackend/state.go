package jsbackend

import (
	"context"
	"fmt"
	"slices"

	"github.com/cschleiden/go-workflows/core"
)

// view is an instance as read at one moment: its latest snapshot and the
// end of its log.
//
// Every read of the backend is a lookup of the last message of a subject
// filter or of one sequence: nats-server finds both through its
// per-subject index, while a forward scan from an arbitrary position walks
// every message stored since, and a stream of many instances interleaves
// them all.
type view struct {
	inst    string
	snapSeq uint64     // the message holding snap; 0 if the instance has none
	snap    *snapshot  // resolved (see snapshot.resolve); nil if none
	entry   *snapEntry // the body of that message
	commit  bool       // the message is a commit
	last    uint64     // the last sequence of the whole log: what a write expects
	// latestCommit is the execution's latest commit (0: none yet), what a
	// new message's snapshot records as LastCommit.
	latestCommit uint64
}

// loadView reads inst's state. hint, if not nil, is a snapshot-bearing
// message of inst already in hand (a delivered task); when it is still the
// end of the log, one lookup is the whole read.
func (b *Backend) loadView(ctx context.Context, inst string, hint *rawMsg) (*view, error) {
	v := &view{inst: inst}
	end, err := b.st.last(ctx, b.n.log(inst))
	if err != nil {
		return nil, err
	}
	if end == nil {
		return v, nil // no log at all
	}
	v.last = end.Seq
	snapMsg := hint
	switch {
	case hint != nil && hint.Seq == end.Seq:
	case isSnapshotSubject(b.n, end.Subject):
		snapMsg = end
	default:
		// The log ends with a fired timer or an activity task.
		if snapMsg, err = b.st.last(ctx, b.n.snaps(inst)); err != nil {
			return nil, err
		}
	}
	if snapMsg == nil {
		// No snapshot: no instance, but the log may hold strays (a timer
		// that fired after its instance was removed).
		return v, nil
	}
	if err := v.setSnapshot(b.n, snapMsg); err != nil {
		return nil, err
	}
	return v, nil
}

// loadViewSeen reads inst's state as loadView does, and again while the
// log ends before seen, a message the caller holds (a delivered task): it
// is in the log, so a read that ends before it is stale. Writes are safe
// on a stale read (their compare-and-set fails), but a decision not to
// write is not: an activity's result found already in, a task found no
// longer current, would be dropped with its task acknowledged. A log that
// is gone altogether (a removed instance) is returned as it is.
func (b *Backend) loadViewSeen(ctx context.Context, inst string, hint *rawMsg, seen uint64) (*view, error) {
	for attempt := 0; ; attempt++ {
		v, err := b.loadView(ctx, inst, hint)
		if err != nil || v.last == 0 || v.last >= seen {
			return v, err
		}
		if attempt >= maxAttempts {
			return nil, fmt.Errorf("jsbackend: instance %q: the log read ends at %d, before message %d which is in it", inst, v.last, seen)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

func (v *view) setSnapshot(n names, m *rawMsg) error {
	e, err := decodeSnapEntry(m.Data)
	if err != nil || e.Snap == nil {
		return fmt.Errorf("jsbackend: instance %q: bad snapshot at %d: %v", v.inst, m.Seq, err)
	}
	ls, _ := n.parse(m.Subject)
	v.snapSeq, v.snap, v.entry, v.commit = m.Seq, e.Snap.clone(), e, ls.sub == "c"
	v.latestCommit = e.Snap.LastCommit
	if v.commit {
		v.latestCommit = m.Seq
	}
	v.snap.resolve(m.Seq)
	return nil
}

func isSnapshotSubject(n names, subject string) bool {
	ls, err := n.parse(subject)
	return err == nil && ls.kind == "m"
}

// active reports whether the view holds a running execution exec (any
// execution if exec is "").
func (v *view) active(exec string) bool {
	return v.snap != nil && v.snap.State == core.WorkflowInstanceStateActive &&
		(exec == "" || v.snap.Instance.ExecutionID == exec)
}

// currentTask reports whether the message at seq is the instance's
// current workflow task: the one its snapshot names while queued.
func (v *view) currentTask(seq uint64) bool {
	return v.active("") && v.snap.Queued && v.snap.Task == seq
}

// next returns a copy of the snapshot to write after v: fields that refer
// to the message they were read from made absolute.
func (v *view) next() *snapshot {
	s := v.snap.clone()
	s.LastCommit = v.latestCommit
	return s
}

func remove[T comparable](list []T, x T) ([]T, bool) {
	i := slices.Index(list, x)
	if i < 0 {
		return list, false
	}
	return slices.Delete(list, i, i+1), true
}
