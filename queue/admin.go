package queue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Operator calls: what a console, a CLI verb or a dashboard needs to see a
// queue and act on it. They read the server's view of the queue, fleet
// wide, not one worker's.

// QueueNames lists the queues on the server: every name with a level-0
// stream (CRQ_<name>_p0), sorted.
func (c *Client) QueueNames(ctx context.Context) ([]string, error) {
	lister := c.js.StreamNames(ctx, jetstream.WithStreamListSubject("cloudrole.queue.*.0"))
	var names []string
	for n := range lister.Name() {
		if name, ok := strings.CutPrefix(n, "CRQ_"); ok {
			if name, ok = strings.CutSuffix(name, "_p0"); ok {
				names = append(names, name)
			}
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("queue: list queues: %w", orClosed(err))
	}
	sort.Strings(names)
	return names, nil
}

// Stats is a queue as the server sees it, across every worker.
type Stats struct {
	Name string `json:"name"`
	// Waiting is the jobs stored and not delivered, per level (0 the
	// highest); Running the jobs delivered and not yet acknowledged
	// (running, or finished and awaiting their ack's confirmation).
	Waiting []uint64 `json:"waiting"`
	Running []uint64 `json:"running"`
	// Oldest is when the oldest job still stored at any level was stored
	// (zero when the queue is empty).
	Oldest time.Time `json:"oldest,omitzero"`
	// DeadLetters is the number of jobs in the dead-letter stream.
	DeadLetters uint64 `json:"dead_letters"`
	// Enqueued counts the jobs ever stored at each level (the streams'
	// last sequence), for rates.
	Enqueued []uint64 `json:"enqueued"`
}

// Stats returns the queue's figures: one stream and one consumer info
// request per level, and one for the dead letters.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Name: q.name, Waiting: make([]uint64, q.cfg.Levels), Running: make([]uint64, q.cfg.Levels), Enqueued: make([]uint64, q.cfg.Levels)}
	for l := range q.cfg.Levels {
		s, err := q.c.js.Stream(ctx, levelStream(q.name, l))
		if err != nil {
			return st, fmt.Errorf("queue %q: level %d: %w", q.name, l, orClosed(err))
		}
		si := s.CachedInfo()
		if si.State.Msgs > 0 && (st.Oldest.IsZero() || si.State.FirstTime.Before(st.Oldest)) {
			st.Oldest = si.State.FirstTime
		}
		st.Enqueued[l] = si.State.LastSeq
		ci, err := q.consumers[l].Info(ctx)
		if err != nil {
			return st, fmt.Errorf("queue %q: level %d consumer: %w", q.name, l, orClosed(err))
		}
		st.Waiting[l], st.Running[l] = ci.NumPending, uint64(ci.NumAckPending)
	}
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("queue %q: dead letters: %w", q.name, orClosed(err))
	}
	st.DeadLetters = info.State.Msgs
	return st, nil
}

// DeadLettersAfter returns up to limit dead letters whose sequence is
// above after, oldest first: a page of the list (limit <= 0 means 100).
func (q *Queue) DeadLettersAfter(ctx context.Context, after uint64, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 100
	}
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue %q: dead letters: %w", q.name, orClosed(err))
	}
	var out []DeadLetter
	for seq := max(info.State.FirstSeq, after+1); info.State.Msgs > 0 && seq <= info.State.LastSeq && len(out) < limit; seq++ {
		raw, err := q.dlq.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("queue %q: dead letter %d: %w", q.name, seq, orClosed(err))
		}
		out = append(out, q.toDeadLetter(raw))
	}
	return out, nil
}

// RequeueAll puts every dead letter back on the queue (see Requeue) and
// returns how many; on an error it stops, and the letters not yet
// re-queued stay.
func (q *Queue) RequeueAll(ctx context.Context) (int, error) {
	n := 0
	for {
		page, err := q.DeadLettersAfter(ctx, 0, 100)
		if err != nil {
			return n, err
		}
		if len(page) == 0 {
			return n, nil
		}
		for _, d := range page {
			if err := q.Requeue(ctx, fmt.Sprint(d.Seq)); err != nil && !errors.Is(err, ErrNotFound) {
				return n, err
			}
			n++
		}
	}
}

// Purge deletes every job waiting at every level (not the ones being
// worked on, whose acks would find nothing; they finish as usual) and
// returns how many it deleted. Nothing is dead-lettered: the jobs are
// gone.
func (q *Queue) Purge(ctx context.Context) (uint64, error) {
	var n uint64
	for l := range q.cfg.Levels {
		s, err := q.c.js.Stream(ctx, levelStream(q.name, l))
		if err != nil {
			return n, fmt.Errorf("queue %q: level %d: %w", q.name, l, orClosed(err))
		}
		before := s.CachedInfo().State.Msgs
		if err := s.Purge(ctx); err != nil {
			return n, fmt.Errorf("queue %q: purge level %d: %w", q.name, l, orClosed(err))
		}
		n += before
	}
	return n, nil
}

// PurgeDeadLetters deletes every dead letter and returns how many.
func (q *Queue) PurgeDeadLetters(ctx context.Context) (uint64, error) {
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue %q: dead letters: %w", q.name, orClosed(err))
	}
	if err := q.dlq.Purge(ctx); err != nil {
		return 0, fmt.Errorf("queue %q: purge dead letters: %w", q.name, orClosed(err))
	}
	return info.State.Msgs, nil
}
