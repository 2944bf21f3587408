package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/internal/cronspec"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Recurring schedules are messages in the queue's schedule stream, one per
// schedule on cloudrole.sched.<name>.rec.<schedule>, with a repeating
// message schedule (a 6-field cron with its time zone, or "@every"). The
// server fires each one itself: at every fire time it stores one copy on
// the level's due subject, which the level's stream sources like any
// scheduled job. So each fire enqueues one job across the whole fleet with
// no leader election and no cloudrole process running at fire time, and
// declaring the same schedule from every instance changes nothing: an
// identical definition is not written again (rewriting it would restart
// its timer).

// Headers of a recurring schedule, carried to each fire.
const (
	// hdrSchedule names the schedule a job was fired by.
	hdrSchedule = "Cloudrole-Schedule"
	// hdrSpec is the schedule's pattern: "cron <tz> <pattern>" or
	// "every <duration>" (the server strips its own schedule headers from
	// a fire, and the worker needs the pattern to know the fire's time).
	hdrSpec = "Cloudrole-Schedule-Spec"
	// hdrDef is a hash of the whole definition, to see a declaration
	// changes nothing.
	hdrDef = "Cloudrole-Schedule-Def"
)

// Schedule is a recurring schedule of a queue (Queue.SetSchedule): each
// time it fires, the server enqueues one job.
type Schedule struct {
	// Name identifies the schedule within the queue: 1..64 characters of
	// A-Z a-z 0-9 _ -. The jobs it fires have the IDs
	// <Name>.<fire time, 20060102T150405Z>.
	Name string
	// Cron is a 6-field NCRONTAB pattern, seconds first ("0 */5 * * * *":
	// every five minutes), as Azure Functions and WebJobs take it (no
	// descriptors such as @daily: write "0 0 0 * * *"). Set Cron or Every.
	Cron string
	// TimeZone is the IANA time zone Cron is read in ("Europe/Amsterdam");
	// empty means UTC. Not with Every.
	TimeZone string
	// Every fires at this interval instead: whole seconds, at least one.
	Every time.Duration
}

// ScheduleInfo is a recurring schedule as stored (Queue.Schedules).
type ScheduleInfo struct {
	Schedule
	// Priority and Key are those of the jobs it fires; Payload and
	// Headers their payload and producer headers.
	Priority Priority
	Key      string
	Payload  []byte
	Headers  nats.Header
	// Next is the next fire time after now (zero if none can be found).
	Next time.Time
	// Updated is when the definition was last set.
	Updated time.Time
}

// spec validates s and returns its pattern for the server and for
// cloudrole's fire times.
func (s Schedule) spec() (pattern, spec string, loc *time.Location, err error) {
	if err := validateName(s.Name); err != nil {
		return "", "", nil, fmt.Errorf("%w: schedule name: %w", ErrBadSchedule, err)
	}
	switch {
	case s.Cron != "" && s.Every != 0:
		return "", "", nil, fmt.Errorf("%w: schedule %q has both Cron and Every", ErrBadSchedule, s.Name)
	case s.Cron == "" && s.Every == 0:
		return "", "", nil, fmt.Errorf("%w: schedule %q has neither Cron nor Every", ErrBadSchedule, s.Name)
	case s.Every != 0:
		if s.TimeZone != "" {
			return "", "", nil, fmt.Errorf("%w: schedule %q: a TimeZone applies to Cron, not Every", ErrBadSchedule, s.Name)
		}
		if s.Every < time.Second || s.Every%time.Second != 0 {
			return "", "", nil, fmt.Errorf("%w: schedule %q: Every %v: want whole seconds, at least 1s", ErrBadSchedule, s.Name, s.Every)
		}
		return "@every " + s.Every.String(), "every " + s.Every.String(), nil, nil
	}
	if strings.HasPrefix(s.Cron, "@every") || strings.HasPrefix(s.Cron, "@at") {
		return "", "", nil, fmt.Errorf("%w: schedule %q: Cron %q: use Every for an interval, WithAt for a single time", ErrBadSchedule, s.Name, s.Cron)
	}
	loc = time.UTC
	tz := "UTC"
	if s.TimeZone != "" {
		if loc, err = time.LoadLocation(s.TimeZone); err != nil {
			return "", "", nil, fmt.Errorf("%w: schedule %q: time zone %q: %w", ErrBadSchedule, s.Name, s.TimeZone, err)
		}
		tz = s.TimeZone
	}
	if _, err := cronspec.Parse(s.Cron, loc, time.Now()); err != nil {
		return "", "", nil, fmt.Errorf("%w: schedule %q: %w", ErrBadSchedule, s.Name, err)
	}
	return s.Cron, "cron " + tz + " " + s.Cron, loc, nil
}

// SetSchedule creates or changes the recurring schedule s on the queue:
// at each fire time the server enqueues one job with payload and opts
// (WithPriority, WithKey, WithHeader, WithReply; not WithID, WithDelay,
// WithAt or WithUnique, which an enqueue of its own decides). It is
// idempotent: declaring the schedule as stored writes nothing, so every
// instance may declare its schedules at start, and racing declarations of
// one definition store it once. A changed definition replaces the stored
// one; its next fire is computed from the change.
//
// A missed fire is not replayed. While the schedule stream has no leader
// (its server is down and no other has taken over, or the cluster lost
// quorum) nothing fires; once a leader is back, the server fires once for
// the missed times and carries on from the next fire time. So a schedule
// fires at most once per fire time, and fire times during an outage
// collapse into one fire when it ends (its job's ID and Due are those of
// the last fire time it stands for).
//
// Errors wrap ErrBadSchedule (a bad name, pattern or time zone: a 5-field
// pattern, for one, says how to write it with seconds), ErrBadPriority,
// ErrBadKey or ErrBadConfig for bad options, and ErrNotFound when the
// queue has no schedule stream (deleted since it was opened).
func (q *Queue) SetSchedule(ctx context.Context, s Schedule, payload []byte, opts ...EnqueueOption) error {
	pattern, spec, _, err := s.spec()
	if err != nil {
		return fmt.Errorf("queue %q: %w", q.name, err)
	}
	var o enqueueOpts
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return fmt.Errorf("queue %q: schedule %q: %w", q.name, s.Name, err)
		}
	}
	if o.id != "" || !o.due.IsZero() || o.unique != nil {
		return fmt.Errorf("queue %q: %w: schedule %q: WithID, WithDelay, WithAt and WithUnique do not apply to a recurring schedule", q.name, ErrBadSchedule, s.Name)
	}
	// The enqueue's own checks (priority, key, payload size), on a job
	// like the ones it fires.
	// No trace context: the fires are not part of the declaring code's trace.
	dr, err := q.build(context.Background(), payload, append(slices.Clip(opts), WithID("schedule")))
	if err != nil {
		return err
	}
	m := dr.m
	l, _ := levelOf(withoutKey(m.Subject), q.cfg.Levels)
	delete(m.Header, hdrID)
	delete(m.Header, jetstream.MsgIDHeader)
	target := dueSubject(q.name, l)
	if o.key != "" {
		target += ".k." + o.key
	}
	m.Subject = recurringSubject(q.name, s.Name)
	m.Header[jetstream.ScheduleHeader] = []string{pattern}
	m.Header[jetstream.ScheduleTargetHeader] = []string{target}
	if s.Cron != "" && s.TimeZone != "" {
		m.Header[jetstream.ScheduleTimeZoneHeader] = []string{s.TimeZone}
	}
	m.Header[hdrSchedule] = []string{s.Name}
	m.Header[hdrSpec] = []string{spec}
	def := definitionHash(m)
	m.Header[hdrDef] = []string{def}
	// Racing identical declarations store one.
	m.Header[jetstream.MsgIDHeader] = []string{"schedule-" + s.Name + "-" + def}
	for range 5 {
		raw, err := q.sched.GetLastMsgForSubject(ctx, m.Subject)
		var last uint64
		switch {
		case err == nil:
			if raw.Header.Get(hdrDef) == def {
				return nil // stored as declared: nothing to write
			}
			last = raw.Sequence
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case errors.Is(err, jetstream.ErrStreamNotFound):
			return fmt.Errorf("queue %q: schedule %q: %w: the queue has no schedule stream %s", q.name, s.Name, ErrNotFound, schedStream(q.name))
		default:
			return fmt.Errorf("queue %q: schedule %q: %w", q.name, s.Name, orClosed(err))
		}
		_, err = q.c.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(last))
		if err == nil {
			if err := q.c.commit.wait(ctx); err != nil {
				return fmt.Errorf("queue %q: schedule %q: stored but not confirmed on disk: %w", q.name, s.Name, err)
			}
			return nil
		}
		if !isRevisionConflict(err) {
			if errors.Is(err, jetstream.ErrNoStreamResponse) {
				return fmt.Errorf("queue %q: schedule %q: %w: no schedule stream %s answers (%w)", q.name, s.Name, ErrNotFound, schedStream(q.name), err)
			}
			return fmt.Errorf("queue %q: schedule %q: %w", q.name, s.Name, q.pubErr(err))
		}
		// Another instance changed it meanwhile: look again.
	}
	return fmt.Errorf("queue %q: schedule %q: changed by others again and again; try again", q.name, s.Name)
}

// definitionHash hashes what a schedule's message says: subject, headers
// and payload (sorted, so the order of a map does not matter).
func definitionHash(m *nats.Msg) string {
	h := sha256.New()
	h.Write([]byte(m.Subject))
	keys := make([]string, 0, len(m.Header))
	for k := range m.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range m.Header[k] {
			fmt.Fprintf(h, "\n%s:%s", k, v)
		}
	}
	h.Write([]byte{0})
	h.Write(m.Data)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// RemoveSchedule removes the recurring schedule called name: it fires no
// more (a job it has already fired stays queued). Errors wrap ErrNotFound
// for an unknown schedule.
func (q *Queue) RemoveSchedule(ctx context.Context, name string) error {
	if err := validateName(name); err != nil {
		return fmt.Errorf("queue %q: %w: schedule name: %w", q.name, ErrBadSchedule, err)
	}
	n, err := q.c.purge(ctx, schedStream(q.name), recurringSubject(q.name, name))
	if err != nil {
		return fmt.Errorf("queue %q: remove schedule %q: %w", q.name, name, err)
	}
	if n == 0 {
		return fmt.Errorf("queue %q: schedule %q: %w", q.name, name, ErrNotFound)
	}
	return nil
}

// Schedules lists the queue's recurring schedules, by name.
func (q *Queue) Schedules(ctx context.Context) ([]ScheduleInfo, error) {
	info, err := q.sched.Info(ctx, jetstream.WithSubjectFilter(recurringSubjects(q.name)))
	if err != nil {
		return nil, fmt.Errorf("queue %q: schedules: %w", q.name, orClosed(err))
	}
	var out []ScheduleInfo
	for subj := range info.State.Subjects {
		raw, err := q.sched.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("queue %q: schedule %s: %w", q.name, subj, orClosed(err))
		}
		out = append(out, q.scheduleInfo(raw))
	}
	slices.SortFunc(out, func(a, b ScheduleInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (q *Queue) scheduleInfo(raw *jetstream.RawStreamMsg) ScheduleInfo {
	si := ScheduleInfo{Payload: raw.Data, Headers: userHeaders(raw.Header), Updated: raw.Time}
	si.Name = raw.Header.Get(hdrSchedule)
	spec := raw.Header.Get(hdrSpec)
	if d, ok := strings.CutPrefix(spec, "every "); ok {
		si.Every, _ = time.ParseDuration(d)
	} else if rest, ok := strings.CutPrefix(spec, "cron "); ok {
		tz, pattern, _ := strings.Cut(rest, " ")
		si.Cron = pattern
		if tz != "UTC" {
			si.TimeZone = tz
		}
	}
	target := raw.Header.Get(jetstream.ScheduleTargetHeader)
	due := dueSubject(q.name, 0)
	due = due[:len(due)-1]
	if rest, ok := strings.CutPrefix(target, due); ok {
		lvl, key, _ := strings.Cut(rest, ".k.")
		if n, err := strconv.Atoi(lvl); err == nil {
			si.Priority = Priority(n)
		}
		si.Key = key
	}
	si.Next = nextFire(spec, time.Now())
	return si
}

// nextFire is the first fire time of spec after t, or zero.
func nextFire(spec string, t time.Time) time.Time {
	if strings.HasPrefix(spec, "every ") {
		return time.Time{} // the server counts intervals from the schedule's own start
	}
	s, ok := parseSpec(spec)
	if !ok {
		return time.Time{}
	}
	return s.ServerNext(t)
}

// parseSpec reads a cron spec header.
// Every fired job is named through its spec: parsed once per process.
func parseSpec(spec string) (*cronspec.Spec, bool) {
	if s, ok := parsedSpecs.Load(spec); ok {
		return s.(*cronspec.Spec), true
	}
	rest, ok := strings.CutPrefix(spec, "cron ")
	if !ok {
		return nil, false
	}
	tz, pattern, _ := strings.Cut(rest, " ")
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, false
	}
	s, err := cronspec.Parse(pattern, loc, time.Now())
	if err != nil {
		return nil, false
	}
	parsedSpecs.Store(spec, s)
	return s, true
}

// parsedSpecs holds the specs parseSpec read, by header value; a process
// sees few distinct schedules.
var parsedSpecs sync.Map

// fireTime is the time the fire of spec that is followed by next (the
// server's Nats-Schedule-Next of the fired message) was due.
func fireTime(spec, next string) (time.Time, bool) {
	nt, err := time.Parse(time.RFC3339Nano, next)
	if err != nil {
		return time.Time{}, false
	}
	if d, ok := strings.CutPrefix(spec, "every "); ok {
		every, err := time.ParseDuration(d)
		if err != nil {
			return time.Time{}, false
		}
		return nt.Add(-every), true
	}
	s, ok := parseSpec(spec)
	if !ok {
		return time.Time{}, false
	}
	return s.ServerPrev(nt)
}

// fireID is the ID of schedule name's job fired at t.
func fireID(name string, t time.Time) string {
	return name + "." + t.UTC().Format("20060102T150405Z")
}

// fired fills in j from the headers of a job the server's scheduler
// stored (m carries Nats-Scheduler): a scheduled job's due time, or a
// recurring schedule's fire time and the job's ID derived from it.
func fired(m *nats.Msg, j *Job) {
	if due := m.Header[hdrDue]; len(due) > 0 {
		j.Due, _ = time.Parse(time.RFC3339Nano, due[0])
		return
	}
	name := m.Header.Get(hdrSchedule)
	if name == "" {
		return
	}
	if t, ok := fireTime(m.Header.Get(hdrSpec), m.Header.Get(jetstream.ScheduleNextHeader)); ok {
		j.Due, j.ID = t, fireID(name, t)
		return
	}
	// No fire time (a damaged header): unique all the same.
	j.ID = name + ".next-" + strings.NewReplacer(":", "", "+", "", "-", "").Replace(m.Header.Get(jetstream.ScheduleNextHeader))
	if validateID(j.ID) != nil {
		j.ID = ""
	}
}
