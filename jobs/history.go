package jobs

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// prune removes the job's ended runs beyond Options.History, and older
// ones whose output would take the job's kept output past HistoryBytes
// (the newest ended run is always kept), each with its output and receive
// cursor. Runs queued or running are never removed. Several instances may
// prune at once: removing is idempotent. Output goes first, so a run
// whose removal was interrupted still has its record, and the next prune
// finishes it. ending, if not nil, is a run about to be recorded ended:
// it counts as the newest, so that once its end is recorded the history
// is within its caps.
func (r *Runner) prune(ctx context.Context, conn *connection, job string, ending *Run) {
	var ended []Run
	err := conn.st.scan(ctx, keyRun+job+".*", func(rec record) {
		if rec.State.Terminal() && (ending == nil || rec.ID != ending.ID) {
			ended = append(ended, rec.Run)
		}
	})
	if err != nil {
		r.log.Warn("jobs: cannot prune the job's history", "job", job, "error", err.Error())
		return
	}
	sortNewestFirst(ended)
	if ending != nil {
		ended = append([]Run{*ending}, ended...)
	}
	var bytes int64
	for i, run := range ended {
		if ending != nil && run.ID == ending.ID && i > 0 {
			continue
		}
		bytes += run.OutputBytes
		if i == 0 || (i < r.o.History && bytes <= r.o.HistoryBytes) {
			continue
		}
		if err := conn.st.remove(ctx, run.ID); err != nil {
			r.log.Warn("jobs: cannot remove an old run", "run", run.ID, "error", err.Error())
			return
		}
	}
}

// remove deletes a run: its output, its receive cursor, then its record.
func (s *store) remove(ctx context.Context, id string) error {
	if err := s.out.Purge(ctx, jetstream.WithPurgeSubject(outputSubject(id))); err != nil {
		return err
	}
	if err := s.purgeKey(ctx, cursorKey(id)); err != nil {
		return err
	}
	return s.purgeKey(ctx, runKey(id))
}
