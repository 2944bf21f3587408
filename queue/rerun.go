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

// Jobs that run again without using up an attempt: a job a stopping worker
// hands back, and a job whose handler snoozed it.
//
// The server counts deliveries, and a redelivery (a nak) would count as
// an attempt. So neither is a nak: the worker stores a fresh copy of the
// job (at once for a hand-back; through the schedule stream for a snooze)
// whose Cloudrole-Attempts-Used header says how many attempts the job had
// used before, then terminates the delivery it held. The copy's first
// delivery is attempt used+1: the attempt that was cut short or snoozed,
// again. The copy is stored before the original is terminated, so a
// failure between the two runs the job twice (at least once), never zero
// times; a copy that cannot be stored falls back to a nak, which counts.

// Headers of a job's copy.
const (
	// hdrUsed is the number of attempts the job used before this copy.
	hdrUsed = "Cloudrole-Attempts-Used"
	// hdrSnoozes is how many times the job has snoozed.
	hdrSnoozes = "Cloudrole-Snoozes"
)

// handBackWait bounds how long a stopping worker waits for the server to
// store the copies of the jobs it hands back.
const handBackWait = 2 * time.Second

// SnoozeError is the error Snooze returns: the handler asks for its job to
// run again after Delay.
type SnoozeError struct {
	Delay time.Duration
}

// Error says for how long.
func (e *SnoozeError) Error() string { return "snooze for " + e.Delay.String() }

// Snooze returns the error a handler returns to have its job run again
// after d without using up an attempt (River's JobSnooze): the job is not
// failed, its next run has the same Job.Attempt, and it waits in the
// schedule stream meanwhile (JobStatus: scheduled, with its due time). It
// is detected with errors.As, so it may be wrapped.
//
// A job snoozes at most the queue's MaxSnoozes times: the next snooze
// dead-letters it, saying so, so a job cannot snooze for ever unnoticed.
// d must be positive; Snooze(d <= 0) counts as a failed attempt whose
// error says why.
func Snooze(d time.Duration) error { return &SnoozeError{Delay: d} }

// carried reads the headers a copy carries into j: the attempts used
// before it, the enqueue time of the original and its due time.
func carried(m *nats.Msg, j *Job) {
	used := m.Header[hdrUsed]
	if len(used) == 0 {
		return
	}
	if n, err := strconv.Atoi(used[0]); err == nil && n > 0 {
		j.Attempt += min(n, 1<<30)
	}
	if t, err := time.Parse(time.RFC3339Nano, m.Header.Get(hdrDue)); err == nil {
		j.Due = t
	}
	if t, err := time.Parse(time.RFC3339Nano, m.Header.Get(hdrEnqueued)); err == nil {
		j.EnqueuedAt = t
	}
}

// copyOf is a fresh message of job j, to be stored under subject: its
// payload and headers (not the server's), its attempts before this one,
// and msgID, which makes a retried store of the same copy store once.
func copyOf(j *Job, subject, msgID string) *nats.Msg {
	h := make(nats.Header, len(j.msg.Header)+3)
	for k, v := range j.msg.Header {
		if !hasPrefixFold(k, "Nats-") {
			h[k] = v
		}
	}
	h[hdrID] = []string{j.ID}
	h[hdrUsed] = []string{strconv.Itoa(j.Attempt - 1)}
	if !j.Due.IsZero() {
		h[hdrDue] = []string{j.Due.UTC().Format(time.RFC3339Nano)}
	}
	if !j.EnqueuedAt.IsZero() {
		h[hdrEnqueued] = []string{j.EnqueuedAt.UTC().Format(time.RFC3339Nano)}
	}
	h[jetstream.MsgIDHeader] = []string{msgID}
	return &nats.Msg{Subject: subject, Header: h, Data: j.Payload}
}

// deliveryName names the delivered message of j (its level and stream
// sequence), for the IDs of its copies.
func deliveryName(j *Job) string {
	d, _ := parseAck(j.msg.Reply)
	return strconv.Itoa(int(j.Priority)) + "-" + strconv.FormatUint(d.seq, 10)
}

// handBack gives the jobs of a stopping worker back without using up the
// attempt they were in: a copy of each is stored on the subject it came
// from, and the delivery terminated. A job whose copy is not confirmed in
// time is given back with a nak instead (which counts). Only the drain
// calls it, for jobs whose flights it marked given, so nothing else acks
// their messages.
func (x *executor) handBack(jobs []*Job) {
	if len(jobs) == 0 {
		return
	}
	futs := make([]jetstream.PubAckFuture, len(jobs))
	for i, j := range jobs {
		f, err := x.q.c.js.PublishMsgAsync(copyOf(j, j.msg.Subject, "back-"+deliveryName(j)))
		if err != nil {
			x.log.Warn("queue: storing a handed-back job failed; giving it back with a nak, which counts as an attempt", "id", j.ID, "err", err)
			_ = j.msg.Nak()
			continue
		}
		futs[i] = f
	}
	deadline := time.NewTimer(handBackWait)
	defer deadline.Stop()
	stored := make([]bool, len(jobs))
	var last bellMarks // other workers may be idle: ring for the copies
	defer func() {
		for l := range x.q.cfg.Levels {
			if seq := last.seq(l); seq > 0 {
				x.q.ring(l, seq)
			}
		}
	}()
	for i, f := range futs {
		if f == nil {
			continue
		}
		j := jobs[i]
		select {
		case ack := <-f.Ok():
			stored[i] = true
			if j.Key == "" {
				last.set(int(j.Priority), ack.Sequence)
			}
			continue
		case err := <-f.Err():
			x.log.Warn("queue: storing a handed-back job failed; giving it back with a nak, which counts as an attempt", "id", j.ID, "err", err)
		case <-deadline.C:
			deadline.Reset(0)
			x.log.Warn("queue: storing a handed-back job not confirmed in time; giving it back with a nak, which counts as an attempt", "id", j.ID)
		}
		_ = j.msg.Nak()
	}
	// The copies on disk before any original is terminated (one group
	// commit for all): a crash then leaves a job twice, never not at all.
	ctx, cancel := context.WithTimeout(context.Background(), handBackWait)
	defer cancel()
	if err := x.q.c.commit.wait(ctx); err != nil {
		x.log.Warn("queue: handed-back jobs not confirmed on disk; giving them back with a nak, which counts as an attempt", "err", err)
		for i, j := range jobs {
			if stored[i] {
				_ = j.msg.Nak()
			}
		}
		return
	}
	for i, j := range jobs {
		if stored[i] {
			if err := j.msg.Term(); err != nil {
				// The copy is stored; the original comes back after its
				// lease, and runs again.
				x.log.Warn("queue: term of a handed-back job failed; it may run twice", "id", j.ID, "err", err)
			}
		}
	}
}

// snooze stores a copy of j due after d, without using up its attempt,
// and terminates the delivery. It returns nil once it acted on the snooze
// (also when it dead-lettered the job for snoozing too often), or the
// error to handle as a failed attempt instead.
func (x *executor) snooze(j *Job, l int, seq uint64, d, took time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("queue: Snooze(%v): the delay must be positive", d)
	}
	n, _ := strconv.Atoi(j.msg.Header.Get(hdrSnoozes))
	n = max(n, 0) + 1
	if n > x.q.cfg.MaxSnoozes {
		x.deadLetter(j, l, seq, took, fmt.Errorf("snoozed %d times, the queue's MaxSnoozes; the next snooze dead-lettered it", n-1))
		return nil
	}
	due := time.Now().Add(d)
	m := copyOf(j, "", "snooze-"+deliveryName(j))
	m.Header[hdrSnoozes] = []string{strconv.Itoa(n)}
	scheduleAt(m, x.q.name, int(j.Priority), j.Key, j.ID, due)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := x.q.c.js.PublishMsg(ctx, m)
	if err == nil {
		// The copy on disk before the delivery is terminated.
		err = x.q.c.commit.wait(ctx)
	}
	if err != nil {
		x.log.Warn("queue: storing a snoozed job failed; retrying it after the snooze with a nak, which counts as an attempt", "id", j.ID, "err", err)
		if nerr := j.msg.NakWithDelay(d); nerr != nil {
			x.log.Warn("queue: nak failed; the job comes back after AckWait", "id", j.ID, "err", nerr)
		}
		x.retryAt(due)
		return nil
	}
	if err := j.msg.Term(); err != nil {
		x.log.Warn("queue: term of a snoozed job failed; it may run before its snooze ends", "id", j.ID, "err", err)
	}
	x.q.writeStatus(JobStatus{ID: j.ID, State: StateScheduled, Attempts: j.Attempt, Enqueued: j.EnqueuedAt, Due: due.UTC()})
	if c := x.q.c; c.observed() {
		c.emit(JobSnoozed{Queue: x.q.name, ID: j.ID, Priority: j.Priority, Attempt: j.Attempt, Until: due, Snoozes: n})
	}
	return nil
}

// asSnooze returns the snooze err asks for, if any.
func asSnooze(err error) (*SnoozeError, bool) {
	var sz *SnoozeError
	ok := errors.As(err, &sz)
	return sz, ok
}
