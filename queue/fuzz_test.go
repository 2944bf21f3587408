package queue

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// FuzzDecodeHeaders feeds arbitrary subjects and header values to the
// envelope and dead-letter decoders: they must never panic and must only
// return usable values (a level of the queue, a valid ID and reply).
func FuzzDecodeHeaders(f *testing.F) {
	f.Add("cloudrole.queue.q.1", "job-1", "reply.to", "3", "2026-01-02T03:04:05Z", "0", "boom")
	f.Add("cloudrole.queue.q.99", "", "", "", "", "", "")
	f.Add("", "a b", "x.*", "-1", "yesterday", "x", "")
	f.Add("no-dots", "..", ".", "99999999999999999999", "", "16", "\x00")
	f.Fuzz(func(t *testing.T, subject, id, reply, attempts, deadAt, prio, errText string) {
		h := nats.Header{}
		h.Set(hdrID, id)
		h.Set(hdrReply, reply)
		h.Set(hdrAttempts, attempts)
		h.Set(hdrDeadAt, deadAt)
		h.Set(hdrPriority, prio)
		h.Set(hdrError, errText)
		for _, hh := range []nats.Header{h, nil, {}} {
			e := decodeHeaders(subject, hh, 3, Normal)
			if e.Priority < 0 || e.Priority >= 3 {
				t.Fatalf("priority %d out of range", e.Priority)
			}
			if e.ID != "" && validateID(e.ID) != nil {
				t.Fatalf("invalid id %q accepted", e.ID)
			}
			if e.Reply != "" && !validSubject(e.Reply) {
				t.Fatalf("invalid reply %q accepted", e.Reply)
			}
			d := decodeDeadHeaders(hh, 3, Normal)
			if d.Priority < 0 || d.Priority >= 3 || d.Attempts < 0 {
				t.Fatalf("dead info %+v out of range", d)
			}
			_ = d.DeadAt.After(time.Time{})
		}
	})
}
