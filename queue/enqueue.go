package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// EnqueueOption adjusts one enqueue. Options validate their argument; a bad
// one makes the enqueue fail before anything is published.
type EnqueueOption func(*enqueueOpts) error

type enqueueOpts struct {
	prio    Priority
	hasPrio bool
	id      string
	dedupe  bool
	reply   string
	hdr     nats.Header
	due     time.Time // zero: at once
	unique  *Unique
	key     string // fairness key
}

// uniqueClaim is the unique key an enqueue must create before it
// publishes, and for how long.
type uniqueClaim struct {
	key string
	ttl time.Duration
}

// WithPriority sets the job's level (0 is the highest).
func WithPriority(p Priority) EnqueueOption {
	return func(o *enqueueOpts) error { o.prio, o.hasPrio = p, true; return nil }
}

// WithID sets the job ID and turns on dedupe: a second enqueue with the
// same ID at the same priority within the queue's DuplicateWindow is
// accepted but stored once (each level is its own stream, with its own
// duplicate window).
// Without it the queue names the job: "seq-<level>-<stream sequence>" once
// it is stored (no header is sent: the cheapest publish), or a generated
// unique ID when the ID is needed before the publish (TrackStatus,
// WithUnique, WithDelay, WithAt). IDs are 1..128 characters of A-Z a-z 0-9
// _ - = and inner dots; keep your own apart from the "seq-<n>-<n>" form.
func WithID(id string) EnqueueOption {
	return func(o *enqueueOpts) error {
		if err := validateID(id); err != nil {
			return err
		}
		o.id, o.dedupe = id, true
		return nil
	}
}

// WithHeader adds a header carried to the handler (and into the dead-letter
// stream). Keys starting with "Cloudrole-" or "Nats-" are reserved.
func WithHeader(key, value string) EnqueueOption {
	return func(o *enqueueOpts) error {
		lk := strings.ToLower(key)
		if key == "" || strings.HasPrefix(lk, "cloudrole-") || strings.HasPrefix(lk, "nats-") {
			return fmt.Errorf("queue: header key %q is empty or reserved (Cloudrole-*, Nats-*)", key)
		}
		if o.hdr == nil {
			o.hdr = nats.Header{}
		}
		o.hdr.Add(key, value)
		return nil
	}
}

// WithReply asks the worker to publish the job's outcome on subject when it
// finishes (succeeded or dead): the result (or error text) as the body and
// the headers Cloudrole-Id and Cloudrole-Outcome ("succeeded" or "dead").
func WithReply(subject string) EnqueueOption {
	return func(o *enqueueOpts) error {
		if !validSubject(subject) {
			return fmt.Errorf("queue: reply subject %q is not a publishable NATS subject", subject)
		}
		o.reply = subject
		return nil
	}
}

// Message is one job of EnqueueBatch.
type Message struct {
	Payload []byte
	Options []EnqueueOption
}

// draft is a job ready to publish.
type draft struct {
	m    *nats.Msg
	id   string
	uq   *uniqueClaim // the unique key to claim first, or nil
	bell int          // the level whose bell the producer rings once stored, or -1 (see bell.go)
	// bySeq: the job's ID is its stream sequence (seqID), known once it is
	// stored; id is "" until then.
	bySeq bool
	level int
}

// storedID is the ID of a job once the server stored it at seq.
func (dr draft) storedID(seq uint64) string {
	if dr.bySeq {
		return seqID(dr.level, seq)
	}
	return dr.id
}

// seqID is the ID of a job without one of its own: each level is its own
// stream, numbered from 1, so the level keeps these unique within the
// queue (for the life of the level's stream).
func seqID(l int, seq uint64) string {
	b := make([]byte, 0, 32)
	b = append(b, "seq-"...)
	b = strconv.AppendInt(b, int64(l), 10)
	b = append(b, '-')
	return string(strconv.AppendUint(b, seq, 10))
}

func (q *Queue) build(ctx context.Context, payload []byte, opts []EnqueueOption) (draft, error) {
	var o enqueueOpts
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return draft{}, fmt.Errorf("queue %q: %w", q.name, err)
		}
	}
	if !o.hasPrio {
		o.prio = q.cfg.DefaultPriority
	}
	if o.prio < 0 || int(o.prio) >= q.cfg.Levels {
		return draft{}, fmt.Errorf("queue %q: %w %d: levels are 0 (highest) to %d", q.name, ErrBadPriority, o.prio, q.cfg.Levels-1)
	}
	if len(payload) > q.cfg.MaxPayload {
		return draft{}, fmt.Errorf("queue %q: %w: payload of %d bytes, the queue's MaxPayload is %d; nothing was enqueued", q.name, ErrPayloadTooLarge, len(payload), q.cfg.MaxPayload)
	}
	if o.key != "" && !q.cfg.Fairness {
		return draft{}, fmt.Errorf("queue %q: %w: WithKey(%q) needs a queue with Fairness", q.name, ErrBadConfig, o.key)
	}
	hasID := o.id != ""
	// A job that needs its ID only once stored is named by its stream
	// sequence (seqID) and carries no header: a header block costs the
	// server a sixth of a publish (BENCHMARKS.md). An ID is needed before
	// the publish for a status record, a unique key or a schedule (whose
	// copy gets another sequence when it falls due).
	bySeq := !hasID && q.status == nil && o.unique == nil && o.due.IsZero()
	if o.id == "" && !bySeq {
		o.id = nuid.Next()
	}
	var uq *uniqueClaim
	if o.unique != nil {
		key, err := uniqueKey(o.unique, o.id, hasID, payload)
		if err != nil {
			return draft{}, fmt.Errorf("queue %q: %w", q.name, err)
		}
		uq = &uniqueClaim{key: key, ttl: q.uniqueTTL(o.unique, o.due)}
	}
	h := o.hdr
	if h == nil && (!bySeq || o.dedupe || o.reply != "" || uq != nil) {
		h = make(nats.Header, 3)
	}
	if !bySeq {
		h[hdrID] = []string{o.id}
	}
	if o.dedupe {
		h[jetstream.MsgIDHeader] = []string{o.id}
	}
	if o.reply != "" {
		h[hdrReply] = []string{o.reply}
	}
	if uq != nil && o.unique.For == 0 {
		h[hdrUnique] = []string{uq.key} // the worker that finishes the job releases it
	}
	h = injectTrace(ctx, h)
	m := &nats.Msg{Subject: q.subjects[o.prio], Header: h, Data: payload}
	if o.key != "" {
		m.Subject = keySubject(q.name, int(o.prio), o.key)
	}
	if !o.due.IsZero() {
		scheduleAt(m, q.name, int(o.prio), o.key, o.id, o.due)
	}
	if len(h) == 0 {
		m.Header = nil // no header block at all
	}
	if err := q.checkSize(m); err != nil {
		return draft{}, err
	}
	bell := int(o.prio)
	if o.key != "" || !o.due.IsZero() {
		bell = -1 // the server rings: the level stream for a key, the schedule stream when due
	}
	return draft{m: m, id: o.id, uq: uq, bell: bell, level: int(o.prio), bySeq: bySeq}, nil
}

// deadLetterRoom is what a job's message must leave free under the
// server's max_payload for the headers its dead letter adds (error text of
// up to 512 bytes, attempts, times, priority, dedupe ID), so a job that
// was accepted can always be dead-lettered.
const deadLetterRoom = 1 << 10

// checkSize compares what is really sent, headers included, with the
// limit the connected server enforces (its max_payload, from the server's
// INFO), so an oversize job fails here with ErrPayloadTooLarge instead of
// with the client's raw error, or later when it could not be
// dead-lettered.
func (q *Queue) checkSize(m *nats.Msg) error {
	limit := q.c.nc.MaxPayload()
	if limit <= 0 { // not connected yet: the client checks on send
		return nil
	}
	size := int64(m.Size() - len(m.Subject))
	if size+deadLetterRoom > limit {
		return fmt.Errorf("queue %q: %w: payload of %d bytes plus %d bytes of headers; the server accepts messages of at most %d bytes (its max_payload), %d of which are kept for the dead-letter headers; nothing was enqueued",
			q.name, ErrPayloadTooLarge, len(m.Data), size-int64(len(m.Data)), limit, deadLetterRoom)
	}
	return nil
}

// Enqueue stores one job and returns its ID once the server has stored it
// (with the embedded server's default sync policy, on disk). It never waits
// for a worker. Errors: ErrBadPriority, ErrBadID, ErrPayloadTooLarge,
// ErrBacklogFull (wrapped, naming the queue and limit; nothing stored), or
// the publish error. A failed enqueue may be retried safely with WithID.
// Without a deadline on ctx, the wait for the acknowledgement is bounded
// by nats.go's default of 5 s. On a cluster failing over the error says
// what happened and wraps ErrNoLeader (nothing stored), ErrNotConfirmed
// (the job may be stored) or ErrDuplicateInProgress (an earlier attempt
// with the same ID is still being stored).
//
// With WithUnique, a duplicate returns the ID of the job it duplicates
// together with an error wrapping ErrDuplicate (a *DuplicateError);
// nothing is enqueued. An enqueue that failed releases its unique key
// again, except when the job may have been stored (ErrNotConfirmed).
func (q *Queue) Enqueue(ctx context.Context, payload []byte, opts ...EnqueueOption) (string, error) {
	dr, err := q.build(ctx, payload, opts)
	if err != nil {
		return "", err
	}
	m, id, uq := dr.m, dr.id, dr.uq
	var rev uint64
	if uq != nil {
		if rev, err = q.claimUnique(ctx, uq.key, id, uq.ttl); err != nil {
			return duplicateOf(err), err
		}
	}
	q.writeEnqueued(m, id)
	if dr.bell >= 0 {
		// A hint ahead of the job: an idle or waiting worker asks for it
		// while the server stores it (its request waits a moment for the
		// job), instead of a round trip after the acknowledgement. The
		// bell after the acknowledgement is the one to rely on.
		q.ring(dr.bell, 0)
	}
	ack, err := q.c.js.PublishMsg(ctx, m)
	if err != nil {
		err = q.pubErr(err)
		if uq != nil && !errors.Is(err, ErrNotConfirmed) {
			q.releaseUnique(ctx, uq.key, id, rev) // nothing was stored
		}
		return "", err
	}
	if dr.bell >= 0 && !ack.Duplicate {
		q.ring(dr.bell, ack.Sequence)
	}
	id = dr.storedID(ack.Sequence)
	if err := q.c.commit.wait(ctx); err != nil {
		return "", fmt.Errorf("queue %q: enqueue: the job was stored but is not confirmed on disk (a retry without WithID may store it twice): %w", q.name, err)
	}
	return id, nil
}

// duplicateOf is the ID of the job a *DuplicateError names, or "".
func duplicateOf(err error) string {
	var d *DuplicateError
	if errors.As(err, &d) {
		return d.ID
	}
	return ""
}

func (q *Queue) pubErr(err error) error {
	// Some client errors on a closed connection do not wrap
	// ErrConnectionClosed (PublishMsgAsync's), so ask the connection too.
	if errors.Is(err, nats.ErrConnectionClosed) || q.c.nc.IsClosed() {
		return fmt.Errorf("queue %q: enqueue: %w (%w)", q.name, ErrClosed, err)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "maximum messages") {
		return fmt.Errorf("queue %q: %w: it holds its limit of %d jobs; nothing was enqueued", q.name, ErrBacklogFull, q.cfg.MaxBacklog)
	}
	return fmt.Errorf("queue %q: enqueue: %w", q.name, explainPublish(err, q.cfg.DuplicateWindow))
}

// BatchError reports the messages of an EnqueueBatch that failed; the
// others were stored.
type BatchError struct {
	// Errs has one entry per message: nil for a stored one.
	Errs []error
}

func (e *BatchError) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("queue: %d of %d messages not enqueued; first: %v", n, len(e.Errs), first)
}

// Unwrap returns the failures, so errors.Is finds e.g. ErrBacklogFull.
func (e *BatchError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// EnqueueBatch publishes all messages without waiting for each
// acknowledgement in turn, then waits for all of them (or ctx). It returns
// the job IDs, one per message, and nil or a *BatchError whose Errs say
// which messages were not stored. A message that fails validation is not
// published; the others still are. Unique keys (WithUnique) are claimed
// one by one before the publishes; a duplicate's ID is that of the job it
// duplicates. A job named by its stream sequence (see WithID) has the ID
// "" when it was not stored or its acknowledgement did not come. Without
// a deadline on ctx, a batch gives up on acknowledgements once 5 to 10 s
// passed without one (ErrNotConfirmed: those jobs may be stored).
func (q *Queue) EnqueueBatch(ctx context.Context, msgs []Message) ([]string, error) {
	ids := make([]string, len(msgs))
	errs := make([]error, len(msgs))
	out := make([]*nats.Msg, len(msgs)) // nil for a message refused before the publish
	var claims []*uniqueClaim           // made by the first unique message
	failed := false
	drafts := make([]draft, len(msgs))
	for i, mm := range msgs {
		dr, err := q.build(ctx, mm.Payload, mm.Options)
		if err != nil {
			errs[i], failed = err, true
			continue
		}
		drafts[i] = dr
		if dr.uq != nil {
			if _, err := q.claimUnique(ctx, dr.uq.key, dr.id, dr.uq.ttl); err != nil {
				ids[i], errs[i], failed = duplicateOf(err), err, true
				continue
			}
			if claims == nil {
				claims = make([]*uniqueClaim, len(msgs))
			}
			claims[i] = dr.uq
		}
		ids[i] = dr.id
		q.writeEnqueued(dr.m, dr.id)
		out[i] = dr.m
	}
	// The first stored job rings its level's bell, so an idle worker
	// starts while the rest are confirmed; the end rings every level
	// again, naming its last job.
	acks, err := q.c.pub.publish(ctx, out, func(i int, seq uint64) {
		if l := drafts[i].bell; l >= 0 {
			q.ring(l, seq)
		}
	})
	if err != nil { // no reply subscription: nothing was sent
		acks = make([]pubAck, len(out))
		for i := range acks {
			acks[i] = pubAck{answered: true, err: err}
		}
	}
	var last bellMarks
	maybe := make([]bool, len(msgs)) // not confirmed: may be stored
	stored := false
	for i, a := range acks {
		if out[i] == nil {
			continue
		}
		switch {
		case !a.answered:
			maybe[i], failed = true, true
			if ctx.Err() != nil {
				errs[i] = fmt.Errorf("queue %q: enqueue not confirmed (it may be stored): %w", q.name, context.Cause(ctx))
			} else {
				errs[i] = q.pubErr(jetstream.ErrAsyncPublishTimeout)
			}
		case a.err != nil:
			errs[i], failed = q.pubErr(a.err), true
		default:
			stored = true
			ids[i] = drafts[i].storedID(a.seq)
			if l := drafts[i].bell; l >= 0 && !a.dup {
				last.set(l, a.seq)
			}
		}
	}
	for l := range q.cfg.Levels {
		if seq := last.seq(l); seq > 0 {
			q.ring(l, seq)
		}
	}
	// One commit for the whole batch: the group commit's point.
	if stored {
		if err := q.c.commit.wait(ctx); err != nil {
			for i := range errs {
				if errs[i] == nil && out[i] != nil {
					errs[i], failed, maybe[i] = fmt.Errorf("queue %q: enqueue: the job was stored but is not confirmed on disk: %w", q.name, err), true, true
				}
			}
		}
	}
	if failed {
		for i, uq := range claims {
			if uq != nil && errs[i] != nil && !maybe[i] {
				q.releaseUnique(ctx, uq.key, ids[i], 0) // nothing was stored
			}
		}
		return ids, &BatchError{Errs: errs}
	}
	return ids, nil
}

func nowRFC() string { return time.Now().UTC().Format(time.RFC3339Nano) }
