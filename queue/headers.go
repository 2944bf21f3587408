package queue

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Headers cloudrole writes. Everything else in a message's headers belongs
// to the producer and is carried through untouched (also into the
// dead-letter stream).
const (
	hdrID       = "Cloudrole-Id"
	hdrReply    = "Cloudrole-Reply"
	hdrError    = "Cloudrole-Error"
	hdrAttempts = "Cloudrole-Attempts"
	hdrDeadAt   = "Cloudrole-Dead-At"
	hdrPriority = "Cloudrole-Priority"
	hdrEnqueued = "Cloudrole-Enqueued-At"
	hdrOutcome  = "Cloudrole-Outcome"
	// hdrDue is the time a scheduled job falls due (RFC 3339), kept on
	// its schedule and so on the copy the server fires.
	hdrDue = "Cloudrole-Due"
)

// envelope is what a worker learns about a job from its subject and
// headers. Decoding never fails: a foreign or damaged message gets the
// defaults, and problems lists what was wrong so the worker can log it.
type envelope struct {
	ID       string
	Priority Priority
	Reply    string
	Problems []string
}

// decodeHeaders reads a job's envelope from the subject it was stored
// under (the last token is the level) and its headers. It must not panic
// on any input: other tools may publish anything to the queue's subjects.
func decodeHeaders(subject string, h nats.Header, levels int, def Priority) envelope {
	e := envelope{Priority: def}
	if i := strings.LastIndexByte(subject, '.'); i >= 0 {
		n, err := strconv.Atoi(subject[i+1:])
		if err == nil && n >= 0 && n < levels {
			e.Priority = Priority(n)
		} else {
			e.Problems = append(e.Problems, "subject "+strconv.Quote(trunc(subject))+" names no level of this queue")
		}
	} else {
		e.Problems = append(e.Problems, "subject "+strconv.Quote(trunc(subject))+" has no level token")
	}
	if h == nil {
		return e
	}
	if ids := h.Values(hdrID); len(ids) > 0 {
		if validateID(ids[0]) == nil {
			e.ID = ids[0]
		} else {
			e.Problems = append(e.Problems, "bad "+hdrID+" header "+strconv.Quote(trunc(ids[0])))
		}
	}
	if rs := h.Values(hdrReply); len(rs) > 0 {
		if validSubject(rs[0]) {
			e.Reply = rs[0]
		} else {
			e.Problems = append(e.Problems, "bad "+hdrReply+" header "+strconv.Quote(trunc(rs[0])))
		}
	}
	return e
}

// deadInfo is what the dead-letter headers say.
type deadInfo struct {
	ID         string
	Priority   Priority
	Error      string
	Attempts   int
	DeadAt     time.Time
	EnqueuedAt time.Time
}

// decodeDeadHeaders reads the cloudrole headers of a dead letter; bad
// values become zero values. It must not panic on any input.
func decodeDeadHeaders(h nats.Header, levels int, def Priority) deadInfo {
	d := deadInfo{Priority: def}
	if h == nil {
		return d
	}
	if id := h.Get(hdrID); validateID(id) == nil {
		d.ID = id
	}
	d.Error = h.Get(hdrError)
	if n, err := strconv.Atoi(h.Get(hdrAttempts)); err == nil && n >= 0 {
		d.Attempts = n
	}
	if n, err := strconv.Atoi(h.Get(hdrPriority)); err == nil && n >= 0 && n < levels {
		d.Priority = Priority(n)
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(hdrDeadAt)); err == nil {
		d.DeadAt = t
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(hdrEnqueued)); err == nil {
		d.EnqueuedAt = t
	}
	return d
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
