package jsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// rawMsg is a stored message as read back.
type rawMsg struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
	Time    time.Time
}

// store reads and writes the backend's stream.
//
// Reads that decide what to write go to the stream leader when the
// stream is replicated: any replica answers a direct get, and a follower
// may be a moment behind. A single-replica stream (the embedded server)
// answers direct gets itself, and they are cheaper than the leader's API.
//
// A request may never be answered: one sent while the stream's leadership
// moves (the servers that do not lead it stay silent, and the old leader
// is going away), or on a connection to a server that is shutting down.
// So a request waits answerWait for its answer and is then sent again,
// until ctx (or reqTimeout) ends. A read is repeated as it is. Every write
// is a compare-and-set (a batch's first message is one), so the repeat of
// a write that was stored after all fails as a conflict, which the
// callers resolve as they resolve any conflict: by reading the log again.
type store struct {
	nc     *nats.Conn
	stream string
	direct bool // reads by direct get: the stream has one replica
	// reqTimeout bounds one request when ctx has no deadline.
	reqTimeout time.Duration
	// answerWait bounds the wait for one answer before the request is
	// sent again.
	answerWait time.Duration
	// synced, if set, waits until acknowledged writes are on disk (see
	// Options.Synced).
	synced func(context.Context) error
}

var (
	// errConflict: a compare-and-set failed; someone wrote first.
	errConflict = errors.New("jsbackend: concurrent write")
	// errTooLarge: a message exceeds the server's maximum payload.
	errTooLarge = errors.New("jsbackend: message too large")
	// errBusy: the server refused a batch for now (too many in flight).
	errBusy = errors.New("jsbackend: server busy")
)

// maxBatch is nats-server's default cap on an atomic batch.
const maxBatch = 1000

func (s *store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.reqTimeout)
}

// request sends m and returns its answer, sending it again each time
// none came within answerWait (or nobody listened: a reconnect, a server
// starting), until ctx ends. prepare, if not nil, is called before each
// send.
func (s *store) request(ctx context.Context, m *nats.Msg, prepare func(*nats.Msg)) (*nats.Msg, error) {
	for attempt := 0; ; attempt++ {
		if prepare != nil {
			prepare(m)
		}
		actx, cancel := context.WithTimeout(ctx, s.answerWait)
		r, err := s.nc.RequestMsgWithContext(actx, m)
		cancel()
		if err == nil || ctx.Err() != nil || !unanswered(err) {
			return r, err
		}
		if errors.Is(err, nats.ErrNoResponders) {
			// Answered at once with nobody to ask: pause rather than spin.
			if err := backoff(ctx, min(attempt+4, 7)); err != nil {
				return nil, err
			}
		}
	}
}

// unanswered reports whether err means that a request got no answer, so
// that sending it again may get one.
func unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}

// last returns the last message matching filter, or nil if there is none.
func (s *store) last(ctx context.Context, filter string) (*rawMsg, error) {
	req, _ := json.Marshal(map[string]any{"last_by_subj": filter})
	return s.get(ctx, req)
}

// bySeq returns the message at seq, or nil if there is none.
func (s *store) bySeq(ctx context.Context, seq uint64) (*rawMsg, error) {
	req, _ := json.Marshal(map[string]any{"seq": seq})
	return s.get(ctx, req)
}

// get runs one single-message get request.
func (s *store) get(ctx context.Context, req []byte) (*rawMsg, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if s.direct {
		m, err := s.request(ctx, &nats.Msg{Subject: "$JS.API.DIRECT.GET." + s.stream, Data: req}, nil)
		if err != nil {
			return nil, fmt.Errorf("jsbackend: read: %w", err)
		}
		return directMsg(m)
	}
	m, err := s.request(ctx, &nats.Msg{Subject: "$JS.API.STREAM.MSG.GET." + s.stream, Data: req}, nil)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: read: %w", err)
	}
	var resp struct {
		Message *struct {
			Subject string    `json:"subject"`
			Seq     uint64    `json:"seq"`
			Header  []byte    `json:"hdrs"`
			Data    []byte    `json:"data"`
			Time    time.Time `json:"time"`
		} `json:"message"`
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, fmt.Errorf("jsbackend: read: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == 10037 || resp.Error.Code == 404 { // no message found
			return nil, nil
		}
		return nil, fmt.Errorf("jsbackend: read: %w", resp.Error)
	}
	if resp.Message == nil {
		return nil, nil
	}
	rm := &rawMsg{Seq: resp.Message.Seq, Subject: resp.Message.Subject, Data: resp.Message.Data, Time: resp.Message.Time}
	if len(resp.Message.Header) > 0 {
		rm.Header = parseHeader(resp.Message.Header)
	}
	return rm, nil
}

// directMsg decodes a direct get answer: a message with its coordinates
// in headers, or a status (404: none).
func directMsg(m *nats.Msg) (*rawMsg, error) {
	if st := m.Header.Get("Status"); st != "" {
		if st == "404" {
			return nil, nil
		}
		return nil, fmt.Errorf("jsbackend: read: status %s %s", st, m.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: read: bad sequence %q", m.Header.Get("Nats-Sequence"))
	}
	t, _ := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp"))
	return &rawMsg{Seq: seq, Subject: m.Header.Get("Nats-Subject"), Header: m.Header, Data: m.Data, Time: t}, nil
}

// multiLast returns the last message of each subject matching filters
// (at most 1024 subjects: the server's cap). It reads by direct get even
// from a replicated stream: it serves listings, which may be a moment
// behind.
func (s *store) multiLast(ctx context.Context, filters []string) ([]*rawMsg, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	req, _ := json.Marshal(map[string]any{"multi_last": filters})
	for {
		out, err := s.multiLastOnce(ctx, req)
		if err == nil || ctx.Err() != nil || !unanswered(err) {
			return out, err
		}
		// An answer stopped coming (see store): ask again from the start.
	}
}

// multiLastOnce sends one multi_last request and collects its answers,
// waiting at most answerWait for each.
func (s *store) multiLastOnce(ctx context.Context, req []byte) ([]*rawMsg, error) {
	inbox := s.nc.NewInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: read: %w", err)
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest("$JS.API.DIRECT.GET."+s.stream, inbox, req); err != nil {
		return nil, fmt.Errorf("jsbackend: read: %w", err)
	}
	var out []*rawMsg
	for {
		actx, cancel := context.WithTimeout(ctx, s.answerWait)
		m, err := sub.NextMsgWithContext(actx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("jsbackend: read: %w", err)
		}
		switch st := m.Header.Get("Status"); st {
		case "":
		case "204", "404":
			return out, nil
		default:
			return nil, fmt.Errorf("jsbackend: read: status %s %s", st, m.Header.Get("Description"))
		}
		rm, err := directMsg(m)
		if err != nil {
			return nil, err
		}
		out = append(out, rm)
	}
}

// apiError is a JetStream API error.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (code %d, error %d)", e.Description, e.Code, e.ErrCode)
}

// pubAck is the server's answer to a publish.
type pubAck struct {
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Duplicate bool      `json:"duplicate"`
	Count     int       `json:"count"`
	Error     *apiError `json:"error"`
}

// classify maps an API error to the sentinel the callers act on.
func classify(e *apiError) error {
	switch e.ErrCode {
	case 10071, 10164, 10158: // wrong last sequence; expectation in process; duplicate in process
		return fmt.Errorf("%w: %s", errConflict, e.Description)
	case 10054: // message size exceeds maximum
		return fmt.Errorf("%w: %s", errTooLarge, e.Description)
	case 10210: // atomic publish too many inflight
		return fmt.Errorf("%w: %s", errBusy, e.Description)
	}
	return e
}

// publish stores one message and returns its sequence.
func (s *store) publish(ctx context.Context, m *nats.Msg) (*pubAck, error) {
	if err := s.fits(m); err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	r, err := s.request(ctx, m, nil)
	if err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return nil, fmt.Errorf("%w: %v", errTooLarge, err)
		}
		return nil, fmt.Errorf("jsbackend: publish %s: %w", m.Subject, err)
	}
	return s.durable(ctx, r)
}

// durable decodes the server's answer to a write and, once it says
// stored, waits for the write to be on disk where a group commit outside
// the server does that.
func (s *store) durable(ctx context.Context, r *nats.Msg) (*pubAck, error) {
	ack, err := decodeAck(r)
	if err != nil || s.synced == nil {
		return ack, err
	}
	if err := s.synced(ctx); err != nil {
		return nil, fmt.Errorf("jsbackend: stored but not confirmed on disk: %w", err)
	}
	return ack, nil
}

func decodeAck(r *nats.Msg) (*pubAck, error) {
	if st := r.Header.Get("Status"); st == "503" {
		return nil, fmt.Errorf("jsbackend: publish: %w", nats.ErrNoStreamResponse)
	}
	var ack pubAck
	if err := json.Unmarshal(r.Data, &ack); err != nil {
		return nil, fmt.Errorf("jsbackend: publish: bad answer %q: %w", r.Data, err)
	}
	if ack.Error != nil {
		return nil, classify(ack.Error)
	}
	return &ack, nil
}

// fits checks m against the connection's maximum payload, so a message
// too large fails with errTooLarge naming the sizes rather than as a
// closed connection.
func (s *store) fits(m *nats.Msg) error {
	size := len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	if max := s.nc.MaxPayload(); max > 0 && int64(size) > max {
		return fmt.Errorf("%w: %d bytes, the server's maximum payload is %d", errTooLarge, size, max)
	}
	return nil
}

// publishBatch stores msgs all or nothing: one message directly, several
// as a JetStream atomic batch (they must all be in this stream). It
// returns the sequence of the last message.
func (s *store) publishBatch(ctx context.Context, msgs []*nats.Msg) (*pubAck, error) {
	if len(msgs) == 1 {
		return s.publish(ctx, msgs[0])
	}
	if len(msgs) > maxBatch {
		return nil, fmt.Errorf("jsbackend: a workflow task needs %d messages, more than the server's atomic batch limit of %d", len(msgs), maxBatch)
	}
	for _, m := range msgs {
		if err := s.fits(m); err != nil {
			return nil, err
		}
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	last := len(msgs) - 1
	for _, m := range msgs {
		if m.Header == nil {
			m.Header = nats.Header{}
		}
	}
	msgs[last].Header.Set("Nats-Batch-Commit", "1")
	// Each send of the batch is a new batch: a repeat re-stages every
	// message, and its first message's compare-and-set fails it if an
	// earlier send was stored after all. What an unanswered send staged
	// is dropped by the server.
	stage := func(*nats.Msg) {
		id := newID()
		for i, m := range msgs {
			m.Header.Set("Nats-Batch-Id", id)
			m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
			if i == last {
				break
			}
			// The batch is staged on the server in order; only the commit
			// is answered, so only it waits. A failed send shows as the
			// commit's error.
			_ = s.nc.PublishMsg(m)
		}
	}
	r, err := s.request(ctx, msgs[last], stage)
	if err != nil {
		return nil, fmt.Errorf("jsbackend: publish batch: %w", err)
	}
	return s.durable(ctx, r)
}

// parseHeader decodes a NATS/1.0 header block as the stream API returns it.
func parseHeader(b []byte) nats.Header {
	h := nats.Header{}
	lines := splitLines(b)
	for i, l := range lines {
		if i == 0 || len(l) == 0 {
			continue // the version line
		}
		for j := 0; j < len(l); j++ {
			if l[j] == ':' {
				k := string(l[:j])
				v := string(trimSpace(l[j+1:]))
				h[k] = append(h[k], v)
				break
			}
		}
	}
	return h
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			out = append(out, b[start:i])
			start = i + 2
			i++
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// IsTooLarge reports whether err is a message the server refused for its
// size.
func IsTooLarge(err error) bool { return errors.Is(err, errTooLarge) }
