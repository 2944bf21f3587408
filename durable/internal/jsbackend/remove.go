package jsbackend

import (
	"context"
	"fmt"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/core"
	"github.com/nats-io/nats.go/jetstream"
)

// RemoveWorkflowInstance removes one finished execution: its log and its
// timers. It fails with backend.ErrInstanceNotFound or
// backend.ErrInstanceNotFinished.
func (b *Backend) RemoveWorkflowInstance(ctx context.Context, instance *core.WorkflowInstance) error {
	s, _, _, err := b.execSnapshot(ctx, instance)
	if err != nil {
		return err
	}
	if !s.finished() {
		return backend.ErrInstanceNotFinished
	}
	return b.purge(ctx, instance)
}

// RemoveWorkflowInstances removes the executions that finished before the
// given time (all finished ones if it is zero).
func (b *Backend) RemoveWorkflowInstances(ctx context.Context, options ...backend.RemovalOption) error {
	ro := backend.DefaultRemovalOptions
	for _, o := range options {
		o(&ro)
	}
	list, err := b.executions(ctx)
	if err != nil {
		return err
	}
	for _, x := range list {
		if !x.Snap.finished() || x.Snap.CompletedAt == nil {
			continue
		}
		if !ro.FinishedBefore.IsZero() && !x.Snap.CompletedAt.Before(ro.FinishedBefore) {
			continue
		}
		if err := b.purge(ctx, x.Instance); err != nil {
			return err
		}
	}
	return nil
}

// purge deletes an execution's messages. Each purge is one operation on
// the stream, all or nothing; the timers go first so that none fires into
// a log that is gone.
func (b *Backend) purge(ctx context.Context, instance *core.WorkflowInstance) error {
	s, err := b.js.Stream(ctx, b.n.stream)
	if err != nil {
		return fmt.Errorf("jsbackend: purge: %w", err)
	}
	for _, f := range []string{b.n.schedules(instance.InstanceID, instance.ExecutionID), b.n.execAll(instance.InstanceID, instance.ExecutionID)} {
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(f)); err != nil {
			return fmt.Errorf("jsbackend: purge %s: %w", f, err)
		}
	}
	return nil
}
