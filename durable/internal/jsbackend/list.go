package jsbackend

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/core"
	"github.com/nats-io/nats.go/jetstream"
)

// execution is one execution as listed: its snapshot and where it is.
type execution struct {
	Instance *core.WorkflowInstance
	Snap     *snapshot
	Seq      uint64    // the snapshot's message (a final commit holds the result)
	Time     time.Time // when it was written
}

// executions lists every stored execution with its latest snapshot. It
// costs a look at every subject of the stream's snapshot messages and one
// read per execution: it serves listings, stats and removal sweeps, not
// the task path.
func (b *Backend) executions(ctx context.Context) ([]*execution, error) {
	s, err := b.js.Stream(ctx, b.n.stream)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(b.n.allSnaps()))
	if err != nil {
		return nil, fmt.Errorf("jsbackend: list: %w", err)
	}
	type key struct{ inst, exec string }
	seen := map[key]bool{}
	var keys []key
	for subj := range info.State.Subjects {
		ls, err := b.n.parse(subj)
		if err != nil {
			continue
		}
		k := key{ls.inst, ls.exec}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	out := make([]*execution, len(keys))
	errs := make([]error, len(keys))
	// The reads are independent: a few at a time hide the round trips.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			snap, _, m, err := b.execSnapshot(ctx, core.NewWorkflowInstance(k.inst, k.exec))
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = &execution{Instance: snap.Instance, Snap: snap, Seq: m.Seq, Time: m.Time}
		}()
	}
	wg.Wait()
	list := out[:0]
	for i, x := range out {
		if x != nil {
			list = append(list, x)
		} else if errs[i] != nil && !isNotFound(errs[i]) {
			return nil, errs[i]
		}
	}
	// Newest first, as the diagnostics UI pages them.
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if !a.Snap.CreatedAt.Equal(b.Snap.CreatedAt) {
			return a.Snap.CreatedAt.After(b.Snap.CreatedAt)
		}
		if a.Instance.InstanceID != b.Instance.InstanceID {
			return strings.Compare(a.Instance.InstanceID, b.Instance.InstanceID) < 0
		}
		return a.Instance.ExecutionID < b.Instance.ExecutionID
	})
	return list, nil
}

func isNotFound(err error) bool { return errors.Is(err, backend.ErrInstanceNotFound) }

// executionsOf lists the execution IDs stored for one instance.
func (b *Backend) executionsOf(ctx context.Context, inst string) ([]string, error) {
	subjects, err := b.subjects(ctx, b.n.snaps(inst))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, subj := range subjects {
		ls, err := b.n.parse(subj)
		if err != nil || seen[ls.exec] {
			continue
		}
		seen[ls.exec] = true
		out = append(out, ls.exec)
	}
	return out, nil
}

// subjects lists the stored subjects matching filter, from the stream's
// subject index (the leader's, which knows a subject just written).
func (b *Backend) subjects(ctx context.Context, filter string) ([]string, error) {
	s, err := b.js.Stream(ctx, b.n.stream)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("jsbackend: subjects %s: %w", filter, err)
	}
	out := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		out = append(out, subj)
	}
	return out, nil
}
