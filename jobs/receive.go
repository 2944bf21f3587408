package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReceiveOptions shape Receive.
type ReceiveOptions struct {
	// Keep returns all of the run's output, from its first line, and
	// hands nothing over: the next Receive without Keep still returns
	// what it would have. Without Keep, Receive returns the lines stored
	// since the last Receive without Keep (from any client), and marks
	// them received.
	Keep bool
	// After, with Keep, skips the lines up to and including this
	// sequence (the Seq of a line read before), so a reader that polls
	// a run's output reads only what is new. Ignored without Keep.
	After uint64
}

// Receive returns a run's output, as Receive-Job does: the lines not yet
// received (each line is handed over once, across every client and
// process), or with Keep all of it. It returns what is stored now and
// does not wait for more (see Follow). Errors wrap ErrBadRunID or
// ErrNotFound.
func (c *Client) Receive(ctx context.Context, id string, opts ReceiveOptions) ([]Line, error) {
	var lines []Line
	err := c.ReceiveFunc(ctx, id, opts, func(l Line) error {
		lines = append(lines, l)
		return nil
	})
	return lines, err
}

// ReceiveFunc is Receive calling fn with each line in order, so a large
// output need not be held in memory. If fn returns an error, ReceiveFunc
// stops and returns it, handing over (without Keep) only the lines fn
// accepted.
func (c *Client) ReceiveFunc(ctx context.Context, id string, opts ReceiveOptions, fn func(Line) error) error {
	if err := CheckRunID(id); err != nil {
		return err
	}
	if _, err := c.st.get(ctx, id); err != nil {
		return err
	}
	last, err := c.lastSeq(ctx, id)
	if err != nil {
		return err
	}
	if opts.Keep {
		_, err := c.readRange(ctx, id, opts.After, last, fn)
		return err
	}
	for range 100 {
		cur, rev, err := c.cursor(ctx, id)
		if err != nil {
			return err
		}
		if cur >= last {
			return nil
		}
		// Lines are handed over only once the cursor moved past them, so
		// concurrent receivers never both get a line: the loser of the
		// cursor's compare-and-set tries again after the winner's lines.
		var batch []Line
		got, rerr := c.readRange(ctx, id, cur, last, func(l Line) error {
			batch = append(batch, l)
			return nil
		})
		if got <= cur {
			return rerr
		}
		if err := c.setCursor(ctx, id, got, rev); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return err
		}
		for _, l := range batch {
			if err := fn(l); err != nil {
				return err
			}
		}
		return rerr
	}
	return fmt.Errorf("jobs: receive %s: too many concurrent receivers", id)
}

// lastSeq is the stream sequence of the run's last stored line, 0 if none.
func (c *Client) lastSeq(ctx context.Context, id string) (uint64, error) {
	m, err := c.st.out.GetLastMsgForSubject(ctx, outputSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("jobs: output of %s: %w", id, err)
	}
	return m.Sequence, nil
}

// cursor is the sequence up to which the run's output was received, and
// the cursor key's revision (0 if none).
func (c *Client) cursor(ctx context.Context, id string) (uint64, uint64, error) {
	e, err := c.st.kv.Get(ctx, cursorKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("jobs: receive cursor of %s: %w", id, err)
	}
	seq, _ := strconv.ParseUint(string(e.Value()), 10, 64)
	return seq, e.Revision(), nil
}

func (c *Client) setCursor(ctx context.Context, id string, seq, rev uint64) error {
	v := []byte(strconv.FormatUint(seq, 10))
	var err error
	if rev == 0 {
		_, err = c.st.kv.Create(ctx, cursorKey(id), v)
	} else {
		_, err = c.st.kv.Update(ctx, cursorKey(id), v, rev)
	}
	if err != nil && isConflict(err) {
		return errConflict
	}
	if err != nil {
		return err
	}
	return c.st.durable(ctx, "the receive cursor of "+id)
}

// readRange calls fn with the run's lines after sequence from, up to and
// including sequence to, and returns the sequence of the last line fn
// accepted (from if none).
func (c *Client) readRange(ctx context.Context, id string, from, to uint64, fn func(Line) error) (uint64, error) {
	if to <= from {
		return from, nil
	}
	got := from
	err := c.consume(ctx, id, from, func(l Line) (bool, error) {
		if l.Seq > to {
			return false, nil
		}
		if err := fn(l); err != nil {
			return false, err
		}
		got = l.Seq
		return l.Seq < to, nil
	})
	return got, err
}

// consume reads the run's lines after sequence from, in order, calling fn
// until it returns false or an error, or ctx ends. It waits for lines not
// yet stored.
func (c *Client) consume(ctx context.Context, id string, from uint64, fn func(Line) (bool, error)) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{outputSubject(id)},
		InactiveThreshold: time.Minute,
	}
	if from > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from+1
	}
	cons, err := c.st.out.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("jobs: read output of %s: %w", id, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return fmt.Errorf("jobs: read output of %s: %w", id, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("jobs: read output of %s: %w", id, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("jobs: read output of %s: %w", id, err)
		}
		more, err := fn(decodeLine(md.Sequence.Stream, m.Data(), md.Timestamp))
		if err != nil || !more {
			return err
		}
	}
}
