package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Scheduled jobs are kept by the NATS server, not by cloudrole: each is a
// message in the queue's schedule stream (CRQ_<name>_sched) carrying the
// server's message-schedule headers (Nats-Schedule "@at <time>",
// Nats-Schedule-Target). When it falls due the server itself stores a copy
// on the level's due subject and purges the schedule; the level's stream
// sources that copy (a durable source through a flow-controlled consumer
// of the schedule stream) onto the level's own subject, where workers take
// it like any other job. No cloudrole process needs to run at the due
// time, and the schedule is as durable as any stored job.
//
// Why a stream of its own, rather than schedules in the level streams: the
// server refuses message schedules on a stream that discards new messages
// (stream.go: "message scheduling cannot use discard new"), and a level
// stream must discard new ones to enforce MaxBacklog (the alternative,
// DiscardOld with a message cap, drops the oldest jobs). The schedule
// stream therefore has no cap; a scheduled job counts against its level's
// MaxBacklog from its due time. A copy that falls due while its level is
// full stays in the schedule stream, and the level's source stores it once
// there is room (the server retries the source every two seconds or so):
// never dropped, never over the cap, but late by as long as the level is
// full. The schedule stream is a WorkQueue stream: a copy is removed once
// the level stream's flow-control acknowledgements confirm it was stored.

// dueInFlight bounds the fired copies a level's source may have received
// and not yet acknowledged.
const dueInFlight = 1024

// schedStreamConfig is the schedule stream of queue name.
func schedStreamConfig(name string, cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        schedStream(name),
		Description: "cloudrole scheduled jobs of queue " + name,
		Subjects:    []string{schedSubjects(name)},
		Retention:   jetstream.WorkQueuePolicy,
		// Required by message schedules, and without a cap (see above)
		// it never discards anything.
		Discard:    jetstream.DiscardOld,
		Storage:    jetstream.FileStorage,
		Replicas:   cfg.Replicas,
		MaxMsgSize: int32(cfg.MaxPayload + 64<<10),
		Duplicates: cfg.DuplicateWindow,
		// The server turns roll-ups on for message schedules (a new
		// schedule on a subject replaces the old one); said here so the
		// stored config equals the declared one.
		AllowMsgSchedules: true,
		AllowRollup:       true,
		// Fired copies ring their level's bell (see bell.go).
		RePublish: dueBell(name, cfg),
	}
}

// dueConsumerConfig is the consumer of the schedule stream through which
// the stream of level l sources the jobs of that level as they fall due.
// Flow-control acknowledgements (AckFlowControl, nats-server 2.14) ack a
// copy only once the level stream has stored it, so a copy that could not
// be stored (a full level) is delivered again, and the WorkQueue schedule
// stream removes each one after it reached the level.
func dueConsumerConfig(name string, l int, cfg Config) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:        dueConsumer(name, l),
		Description:    fmt.Sprintf("cloudrole queue %s: level %d's scheduled jobs as they fall due", name, l),
		DeliverSubject: dueDeliver(name, l),
		AckPolicy:      jetstream.AckFlowControlPolicy,
		FlowControl:    true,
		IdleHeartbeat:  time.Second, // the server requires 1s with AckFlowControl
		MaxAckPending:  dueInFlight,
		FilterSubject:  dueSubject(name, l),
		Replicas:       cfg.Replicas,
	}
	if cfg.Fairness {
		c.FilterSubject, c.FilterSubjects = "", []string{dueSubject(name, l), dueKeySubjects(name, l)}
	}
	return c
}

// dueSource is the source of level l's stream: the fired copies of the
// level's scheduled jobs, moved onto the level's subject.
func dueSource(name string, l int, cfg Config) *jetstream.StreamSource {
	s := &jetstream.StreamSource{
		Name:     schedStream(name),
		Consumer: &jetstream.StreamConsumerSource{Name: dueConsumer(name, l), DeliverSubject: dueDeliver(name, l)},
		SubjectTransforms: []jetstream.SubjectTransformConfig{
			{Source: dueSubject(name, l), Destination: levelSubject(name, l)},
		},
	}
	if cfg.Fairness {
		s.SubjectTransforms = append(s.SubjectTransforms, jetstream.SubjectTransformConfig{
			Source: dueKeySubjects(name, l), Destination: levelSubject(name, l) + ".k.{{wildcard(1)}}",
		})
	}
	return s
}

// hasDueSource reports whether a level stream's config sources its
// scheduled jobs: a stream made by a cloudrole before scheduled jobs does
// not.
func hasDueSource(sc jetstream.StreamConfig, name string, l int) bool {
	for _, s := range sc.Sources {
		if s != nil && s.Name == schedStream(name) && s.Consumer != nil && s.Consumer.Name == dueConsumer(name, l) {
			return true
		}
	}
	return false
}

// WithDelay makes the job due d from now instead of at once. The server
// keeps it in the queue's schedule stream until then (it survives restarts
// of every process and of the server) and moves it onto its level when it
// falls due; JobStatus shows it as scheduled with its due time, and Cancel
// removes it. d must be positive: an error wrapping ErrBadSchedule
// otherwise. The server's scheduler runs on a 250 ms tick, so a job starts
// 0 to 250 ms after its due time (about 130 ms at the median; measured
// figures in BENCHMARKS.md), later by as long as its level is full (see
// the package doc on MaxBacklog). With WithID, an enqueue of a job whose ID
// is still scheduled at the same priority replaces that schedule (its due
// time, payload and headers) once the DuplicateWindow has passed; within
// the window it is deduplicated like any enqueue.
func WithDelay(d time.Duration) EnqueueOption {
	return func(o *enqueueOpts) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithDelay(%v): the delay must be positive; enqueue without WithDelay to run the job now", ErrBadSchedule, d)
		}
		o.due = time.Now().Add(d)
		return nil
	}
}

// WithAt makes the job due at t, as WithDelay(time.Until(t)) does. t must
// be in the future: an error wrapping ErrBadSchedule otherwise (a time
// already past is most likely a mistake in the caller's clock or time
// zone; enqueue without WithAt to run the job now).
func WithAt(t time.Time) EnqueueOption {
	return func(o *enqueueOpts) error {
		if t.IsZero() {
			return fmt.Errorf("%w: WithAt(zero time)", ErrBadSchedule)
		}
		if now := time.Now(); !t.After(now) {
			return fmt.Errorf("%w: WithAt(%s) is %v in the past; enqueue without WithAt to run the job now", ErrBadSchedule,
				t.Format(time.RFC3339Nano), now.Sub(t).Round(time.Millisecond))
		}
		o.due = t
		return nil
	}
}

// scheduleAt turns m, a job for level l (and fairness key, or ""), into
// its schedule: stored on the job's own subject in the schedule stream
// (one subject per job, since the server keeps one schedule per subject),
// fired onto the level's due subject (the key's) at due.
func scheduleAt(m *nats.Msg, name string, l int, key, id string, due time.Time) {
	due = due.UTC()
	m.Subject = atSubject(name, l, id)
	target := dueSubject(name, l)
	if key != "" {
		target += ".k." + key
	}
	m.Header[jetstream.ScheduleHeader] = []string{"@at " + due.Format(time.RFC3339Nano)}
	m.Header[jetstream.ScheduleTargetHeader] = []string{target}
	m.Header[hdrDue] = []string{due.Format(time.RFC3339Nano)}
}

// purge removes the messages of stream on subject (wildcards allowed) and
// returns how many there were. The jetstream client's Purge does not say.
func (c *Client) purge(ctx context.Context, stream, subject string) (uint64, error) {
	req, _ := json.Marshal(struct {
		Filter string `json:"filter"`
	}{subject})
	resp, err := c.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE."+stream, req)
	if err != nil {
		return 0, orClosed(err)
	}
	var r struct {
		Success bool   `json:"success"`
		Purged  uint64 `json:"purged"`
		Error   *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return 0, fmt.Errorf("purge %s: bad response: %w", stream, err)
	}
	if r.Error != nil {
		return 0, fmt.Errorf("purge %s: %s (code %d)", stream, r.Error.Description, r.Error.ErrCode)
	}
	return r.Purged, nil
}

// scheduled returns the status of job id from its schedule, when the
// schedule stream holds one: its state is scheduled, with its due time
// and level. ok is false when no schedule holds the job.
func (q *Queue) scheduled(ctx context.Context, id string) (s JobStatus, ok bool, err error) {
	raw, err := q.sched.GetLastMsgForSubject(ctx, atAnyLevel(q.name, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return JobStatus{}, false, nil
	}
	if err != nil {
		return JobStatus{}, false, fmt.Errorf("queue %q: job %q schedule: %w", q.name, id, orClosed(err))
	}
	s = JobStatus{ID: id, State: StateScheduled, Updated: raw.Time.UTC(), Enqueued: raw.Time.UTC()}
	if t, err := time.Parse(time.RFC3339Nano, raw.Header.Get(hdrDue)); err == nil {
		s.Due = t
	}
	return s, true, nil
}

// ScheduledJobs counts the queue's scheduled jobs (WithDelay, WithAt, a
// snooze) not yet due, at every level: one request to the server, which
// answers with a count per job (a subject each), so it costs in proportion
// to the jobs waiting for their time. Recurring schedules are not counted
// (Schedules lists them).
func (q *Queue) ScheduledJobs(ctx context.Context) (uint64, error) {
	info, err := q.sched.Info(ctx, jetstream.WithSubjectFilter("cloudrole.sched."+q.name+".at.>"))
	if err != nil {
		return 0, fmt.Errorf("queue %q: scheduled jobs: %w", q.name, orClosed(err))
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
