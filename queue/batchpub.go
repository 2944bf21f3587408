package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// batchPub publishes the jobs of EnqueueBatch calls and collects the
// server's acknowledgements, in place of jetstream's PublishMsgAsync.
// Why: per message, PublishMsgAsync registers a future in a map under a
// lock, decodes the acknowledgement with encoding/json, and its channels
// are made on the first wait; measured here, that client work is about a
// tenth of a batch enqueue's CPU (BENCHMARKS.md). A batch here is one map
// entry; each reply subject names the batch and the message's index; an
// acknowledgement without an error is read without reflection (a
// sequence and a duplicate flag), anything else is decoded in full.
//
// Nothing about delivery changes: a job is stored once the server
// answered it, exactly as with PublishMsgAsync, and a reply that never
// comes (a lost connection, a leaderless stream) leaves the job "not
// confirmed" after a replyWait without answers or the caller's deadline.
type batchPub struct {
	nc *nats.Conn

	once   sync.Once
	prefix string // replies arrive on prefix<batch>.<index>
	sub    *nats.Subscription
	err    error // from the subscribe

	mu      sync.Mutex
	next    uint64
	batches map[uint64]*pubBatch
}

// pubBatch is one EnqueueBatch's messages in flight.
type pubBatch struct {
	acks  []pubAck // by message index; written under batchPub.mu
	left  int      // unanswered; under batchPub.mu
	done  chan struct{}
	room  chan struct{} // one token per message sent and unanswered (the window)
	first func(i int, seq uint64)
}

// pubAck is the server's answer to one message.
type pubAck struct {
	seq      uint64
	dup      bool
	err      error
	answered bool
}

// errNotSent marks a message of a batch whose context ended before it was
// sent: nothing was stored.
var errNotSent = errors.New("not sent: the context ended first; nothing was stored")

// pubWindow bounds the messages of one batch sent and not yet answered,
// as PublishMsgAsync's default of 4,000 pending does.
const pubWindow = 4096

// replyWait is how long a stretch without an answer makes a batch give up
// on the rest when the caller's context has no deadline (nats.go's
// default for a publish): between one and two of it after the last answer.
const replyWait = 5 * time.Second

func (p *batchPub) start() error {
	p.once.Do(func() {
		p.prefix = p.nc.NewInbox() + "."
		p.batches = make(map[uint64]*pubBatch)
		p.sub, p.err = p.nc.Subscribe(p.prefix+"*.*", p.onReply)
	})
	return p.err
}

// publish sends msgs (nil entries are skipped) and returns every answer,
// by index; an entry whose answer did not come in time has answered
// false, one never sent (ctx ended first) has errNotSent. first, if set,
// is called once with the index and sequence of the batch's first stored
// message, on the replies' goroutine.
func (p *batchPub) publish(ctx context.Context, msgs []*nats.Msg, first func(i int, seq uint64)) ([]pubAck, error) {
	if err := p.start(); err != nil {
		return nil, err
	}
	b := &pubBatch{acks: make([]pubAck, len(msgs)), done: make(chan struct{}), room: make(chan struct{}, min(len(msgs), pubWindow)), first: first}
	p.mu.Lock()
	p.next++
	id := p.next
	p.batches[id] = b
	for _, m := range msgs {
		if m != nil {
			b.left++
		}
	}
	if b.left == 0 {
		close(b.done)
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.batches, id)
		p.mu.Unlock()
	}()
	base := strconv.AppendUint([]byte(p.prefix), id, 10)
	base = append(base, '.')
	notSent := func(from int) []pubAck {
		acks := p.snapshot(b)
		for j := from; j < len(msgs); j++ {
			if msgs[j] != nil {
				acks[j] = pubAck{answered: true, err: errNotSent}
			}
		}
		return acks
	}
	if ctx.Err() != nil {
		return notSent(0), nil
	}
	for i, m := range msgs {
		if m == nil {
			continue
		}
		select {
		case b.room <- struct{}{}:
		default: // the window is full: wait for an answer
			select {
			case b.room <- struct{}{}:
			case <-ctx.Done():
				return notSent(i), nil
			}
		}
		m.Reply = string(strconv.AppendInt(base, int64(i), 10))
		if err := p.nc.PublishMsg(m); err != nil {
			p.answer(b, i, pubAck{err: err}) // nothing sent: its own error
		}
	}
	// Give up once a whole replyWait passes without an answer: the
	// unanswered count standing still says so.
	left := p.unanswered(b)
	timer := time.NewTimer(replyWait)
	defer timer.Stop()
	for {
		select {
		case <-b.done:
			return b.acks, nil // complete: no reply writes any more
		case <-ctx.Done():
			return p.snapshot(b), nil
		case <-timer.C:
			now := p.unanswered(b)
			if now == left {
				return p.snapshot(b), nil
			}
			left = now
			timer.Reset(replyWait)
		}
	}
}

func (p *batchPub) unanswered(b *pubBatch) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return b.left
}

// snapshot copies b's answers so far; later replies find no batch.
func (p *batchPub) snapshot(b *pubBatch) []pubAck {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pubAck(nil), b.acks...)
}

func (p *batchPub) answer(b *pubBatch, i int, a pubAck) {
	p.mu.Lock()
	if i < 0 || i >= len(b.acks) || b.acks[i].answered {
		p.mu.Unlock()
		return
	}
	a.answered = true
	b.acks[i] = a
	select {
	case <-b.room:
	default:
	}
	if b.left--; b.left == 0 {
		close(b.done)
	}
	first := b.first
	if a.err == nil && !a.dup {
		b.first = nil
	} else {
		first = nil
	}
	p.mu.Unlock()
	if first != nil {
		first(i, a.seq)
	}
}

// onReply reads one acknowledgement (on the subscription's goroutine).
func (p *batchPub) onReply(m *nats.Msg) {
	rest := m.Subject[min(len(m.Subject), len(p.prefix)):]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 {
		return
	}
	id, err1 := strconv.ParseUint(rest[:dot], 10, 64)
	i, err2 := strconv.Atoi(rest[dot+1:])
	if err1 != nil || err2 != nil {
		return
	}
	p.mu.Lock()
	b := p.batches[id]
	p.mu.Unlock()
	if b == nil {
		return // given up on
	}
	p.answer(b, i, readPubAck(m))
}

// readPubAck turns a reply into an answer: {"stream":…,"seq":N} and
// optionally "duplicate":true without reflection; an error, a status
// (no responders) or anything unexpected the slow way.
func readPubAck(m *nats.Msg) pubAck {
	if len(m.Data) == 0 {
		if m.Header.Get("Status") == "503" {
			return pubAck{err: jetstream.ErrNoStreamResponse}
		}
		return pubAck{err: jetstream.ErrInvalidJSAck}
	}
	d := m.Data
	if !bytes.Contains(d, []byte(`"error"`)) {
		if k := bytes.Index(d, []byte(`"seq":`)); k >= 0 {
			j := k + len(`"seq":`)
			n := j
			for n < len(d) && d[n] >= '0' && d[n] <= '9' {
				n++
			}
			if seq, err := strconv.ParseUint(string(d[j:n]), 10, 64); err == nil && seq > 0 {
				return pubAck{seq: seq, dup: bytes.Contains(d, []byte(`"duplicate":true`))}
			}
		}
	}
	var full struct {
		Error     *jetstream.APIError `json:"error"`
		Seq       uint64              `json:"seq"`
		Duplicate bool                `json:"duplicate"`
	}
	if err := json.Unmarshal(d, &full); err != nil {
		return pubAck{err: jetstream.ErrInvalidJSAck}
	}
	if full.Error != nil {
		return pubAck{err: full.Error}
	}
	if full.Seq == 0 {
		return pubAck{err: jetstream.ErrInvalidJSAck}
	}
	return pubAck{seq: full.Seq, dup: full.Duplicate}
}
