package jobs

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// output stores one run's lines in NATS as they are produced: each line is
// published at once (asynchronously, in order), and flush waits until the
// server has stored them all. A run's output is kept within limit bytes of
// text by removing its oldest lines (as a log rotates: the newest lines,
// where a long-running job's present state and a failed run's error are,
// stay); it may pass the limit by a quarter before it is trimmed back.
// Safe for concurrent use.
type output struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	subject string
	limit   int64
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	buf     []byte
	last    jetstream.PubAckFuture
	settled jetstream.PubAckFuture // last, once waited for (a future's result is read once)
	lines   int64                  // stored now
	bytes   int64                  // of text stored now (estimated once trimmed)
	removed int64                  // lines trimmed away

	failed atomic.Int64 // lines the server did not store
}

func newOutput(js jetstream.JetStream, stream jetstream.Stream, id string, limit int64, log *slog.Logger) *output {
	return &output{js: js, stream: stream, subject: outputSubject(id), limit: limit, log: log, now: time.Now}
}

// line stores one line (without its newline) read from s.
func (o *output) line(s Stream, b []byte) {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	text := sanitize(b)
	level := slog.LevelInfo
	if s == Stderr {
		level = slog.LevelError
	}
	if o.log.Enabled(context.Background(), level) {
		o.log.Log(context.Background(), level, text, "stream", string(s))
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	o.bytes += int64(len(text))
	o.lines++
	o.publishLocked(s, text)
	if o.bytes > o.limit+o.limit/4 {
		o.trimLocked()
	}
}

// trim removes the run's oldest lines until its output fits the limit.
func (o *output) trim() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.trimLocked()
}

// trimLocked keeps the newest lines that fit the limit, at the average
// line size so far: the server purges the run's subject down to that many
// messages, once what was published has been stored.
func (o *output) trimLocked() {
	if o.bytes <= o.limit || o.lines == 0 {
		return
	}
	avg := float64(o.bytes) / float64(o.lines)
	keep := max(int64(float64(o.limit)/avg), 1)
	if keep >= o.lines {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = o.settleLocked(ctx)
	if err := o.stream.Purge(ctx, jetstream.WithPurgeSubject(o.subject), jetstream.WithPurgeKeep(uint64(keep))); err != nil {
		o.log.Warn("jobs: cannot trim the run's output to jobs.history_size", "error", err.Error())
		return
	}
	o.removed += o.lines - keep
	o.lines, o.bytes = keep, int64(float64(keep)*avg)
}

func (o *output) publishLocked(s Stream, text string) {
	o.buf = encodeLine(o.buf[:0], s, o.now(), text)
	m := &nats.Msg{Subject: o.subject, Data: append([]byte(nil), o.buf...)}
	for range 50 {
		f, err := o.js.PublishMsgAsync(m)
		if err == nil {
			o.last = f
			return
		}
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			break
		}
		// The server is behind: wait for it (this slows the program's
		// writes, never the role) and try again.
		select {
		case <-o.js.PublishAsyncComplete():
		case <-time.After(time.Second):
		}
	}
	o.failed.Add(1)
}

// counts returns the lines and bytes stored now, and the lines not kept
// (trimmed away, or not stored by the server).
func (o *output) counts() (lines, bytes, dropped int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lines, o.bytes, o.removed + o.failed.Load()
}

// flush waits until the server has acknowledged every line published so
// far (they are acknowledged in order), or ctx ends.
func (o *output) flush(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.settleLocked(ctx)
}

// settleLocked waits for the last publish's acknowledgement, once per
// future.
func (o *output) settleLocked(ctx context.Context) error {
	f := o.last
	if f == nil || f == o.settled {
		return nil
	}
	select {
	case <-f.Ok():
		o.settled = f
		return nil
	case err := <-f.Err():
		o.settled = f
		o.failed.Add(1)
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// writer returns an io.Writer storing a line per '\n' written to it, for
// a Go job; close stores what is left after the last newline.
func (o *output) writer(s Stream) *lineWriter { return &lineWriter{o: o, s: s} }

// lineWriter splits writes into lines; lines longer than maxLine are
// stored in pieces of maxLine. Safe for concurrent use.
type lineWriter struct {
	o *output
	s Stream

	mu      sync.Mutex
	pending []byte
	closed  bool // the run ended: an abandoned Go job's writes are dropped
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if w.closed {
		return n, nil
	}
	for len(p) > 0 {
		i := indexNL(p)
		if i < 0 {
			room := maxLine - len(w.pending)
			if len(p) < room {
				w.pending = append(w.pending, p...)
				return n, nil
			}
			w.pending = append(w.pending, p[:room]...)
			p = p[room:]
			w.o.line(w.s, w.pending)
			w.pending = w.pending[:0]
			continue
		}
		if len(w.pending)+i > maxLine {
			room := maxLine - len(w.pending)
			w.pending = append(w.pending, p[:room]...)
			p = p[room:]
			w.o.line(w.s, w.pending)
			w.pending = w.pending[:0]
			continue
		}
		w.pending = append(w.pending, p[:i]...)
		p = p[i+1:]
		w.o.line(w.s, w.pending)
		w.pending = w.pending[:0]
	}
	return n, nil
}

func indexNL(p []byte) int {
	for i, c := range p {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// close stores an unterminated last line.
func (w *lineWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) > 0 && !w.closed {
		w.o.line(w.s, w.pending)
	}
	w.pending, w.closed = nil, true
}

// readLines stores every line read from r until r ends, always reading to
// the end so a program never blocks on a full pipe. Lines longer than
// maxLine are stored in pieces.
func (o *output) readLines(r io.Reader, s Stream) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			o.line(s, line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
