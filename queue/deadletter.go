package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is a job in the queue's dead-letter stream.
type DeadLetter struct {
	// Seq is its sequence in the dead-letter stream; Requeue accepts it.
	Seq        uint64
	ID         string
	Priority   Priority
	Error      string
	Attempts   int
	DeadAt     time.Time
	EnqueuedAt time.Time
	Payload    []byte
	// Headers are the producer's headers; nil when there were none.
	Headers nats.Header
}

// DeadLetters returns up to limit dead letters, oldest first (limit <= 0
// means 100). It reads without consuming: the letters stay until Requeue.
func (q *Queue) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 100
	}
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue %q: dead letters: %w", q.name, orClosed(err))
	}
	var out []DeadLetter
	if info.State.Msgs == 0 {
		return out, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && len(out) < limit; seq++ {
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

func (q *Queue) toDeadLetter(raw *jetstream.RawStreamMsg) DeadLetter {
	d := decodeDeadHeaders(raw.Header, q.cfg.Levels, q.cfg.DefaultPriority)
	return DeadLetter{
		Seq: raw.Sequence, ID: d.ID, Priority: d.Priority, Error: d.Error, Attempts: d.Attempts,
		DeadAt: d.DeadAt, EnqueuedAt: d.EnqueuedAt, Payload: raw.Data, Headers: userHeaders(raw.Header),
	}
}

// Requeue puts a dead letter back on the queue at its original priority,
// with its ID, headers and reply subject, and a fresh attempt count; then
// removes it from the dead-letter stream. ref is the letter's Seq (as
// decimal) or its job ID. It publishes before deleting, so a failure midway
// loses nothing; a repeated Requeue after such a failure is deduplicated
// within the queue's DuplicateWindow. Errors wrap ErrNotFound for an
// unknown ref.
func (q *Queue) Requeue(ctx context.Context, ref string) error {
	raw, err := q.findDead(ctx, ref)
	if err != nil {
		return err
	}
	d := decodeDeadHeaders(raw.Header, q.cfg.Levels, q.cfg.DefaultPriority)
	h := userHeaders(raw.Header)
	if h == nil {
		h = nats.Header{}
	}
	if d.ID != "" {
		h[hdrID] = []string{d.ID}
	}
	if r := raw.Header.Get(hdrReply); validSubject(r) {
		h[hdrReply] = []string{r}
	}
	h[jetstream.MsgIDHeader] = []string{"requeue-" + strconv.FormatUint(raw.Sequence, 10)}
	m := &nats.Msg{Subject: levelSubject(q.name, int(d.Priority)), Header: h, Data: raw.Data}
	ack, err := q.c.js.PublishMsg(ctx, m)
	if err != nil {
		return fmt.Errorf("queue %q: requeue dead letter %d: %w (it stays in the dead-letter stream)", q.name, raw.Sequence, q.pubErr(err))
	}
	q.ring(int(d.Priority), ack.Sequence)
	// On disk before the letter goes: a crash then leaves a copy, never none.
	if err := q.c.commit.wait(ctx); err != nil {
		return fmt.Errorf("queue %q: requeue dead letter %d: %w (it stays in the dead-letter stream)", q.name, raw.Sequence, err)
	}
	if err := q.dlq.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("queue %q: dead letter %d was re-queued but not removed: %w", q.name, raw.Sequence, err)
	}
	if d.ID != "" {
		q.writeQueued(d.ID)
	}
	return nil
}

func (q *Queue) findDead(ctx context.Context, ref string) (*jetstream.RawStreamMsg, error) {
	if seq, err := strconv.ParseUint(ref, 10, 64); err == nil {
		raw, err := q.dlq.GetMsg(ctx, seq)
		if err == nil {
			return raw, nil
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("queue %q: dead letter %d: %w", q.name, seq, orClosed(err))
		}
	}
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue %q: dead letters: %w", q.name, orClosed(err))
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := q.dlq.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("queue %q: dead letter %d: %w", q.name, seq, err)
		}
		if raw.Header.Get(hdrID) == ref {
			return raw, nil
		}
	}
	return nil, fmt.Errorf("queue %q: dead letter %q: %w", q.name, ref, ErrNotFound)
}
