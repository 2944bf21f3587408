package queue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Queue declares the queue called name with cfg, as the process that owns
// it (its workers) should: it creates what is absent and returns the
// queue. It never changes a queue that exists: if the stored settings
// differ from cfg (after defaults), it changes nothing and returns a
// *ConfigMismatchError (wrapping ErrConfigMismatch) that lists every
// differing setting; use OpenQueue to use the queue as stored, or
// UpdateQueue to change it. Declaring the stored settings again is a no-op
// on the server, so every instance of a role may declare its queue at start.
//
// name is 1..64 characters of A-Z a-z 0-9 _ -; errors wrap ErrBadName or
// ErrBadConfig and create nothing. Errors wrap ErrStrandedJobs when a level
// stream beyond cfg.Levels holds jobs. A queue created by a cloudrole that
// recorded no configuration is adopted (its configuration recorded) when
// the settings its streams show agree with cfg; the others (MaxDeliver,
// the retry delays, DefaultPriority, MaxResult) are taken from cfg.
func (c *Client) Queue(ctx context.Context, name string, cfg Config) (*Queue, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	explicit := cfg.MaxPayload != 0
	cfg, err := resolve(cfg)
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	if err := c.payloadFits(cfg.MaxPayload, explicit); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	lay, err := c.readLayout(ctx, name)
	if err != nil {
		return nil, err
	}
	switch {
	case len(lay.levels) == 0:
		// Absent: created below, level 0 (the record) first.
	case lay.record() != "":
		stored, err := lay.config(name)
		if err != nil {
			return nil, err
		}
		if d := diffs(stored, cfg, nil); len(d) > 0 {
			return nil, &ConfigMismatchError{Queue: name, Diffs: d}
		}
		if err := lay.strays(name, cfg.Levels); err != nil {
			return nil, err
		}
	default:
		facts, known, err := c.legacyFacts(ctx, name, lay)
		if err != nil {
			return nil, err
		}
		if d := diffs(facts, cfg, known); len(d) > 0 {
			return nil, &ConfigMismatchError{Queue: name, Diffs: d, Derived: true}
		}
		if err := c.adopt(ctx, name, lay, cfg); err != nil {
			return nil, err
		}
	}
	return c.build(ctx, name, cfg, lay, false)
}

// OpenQueue returns the queue called name with its stored configuration,
// for producers, tools and dashboards that must not decide it. It creates
// only parts of the queue that are missing (as the stored configuration
// describes them) and changes nothing that exists. Errors wrap ErrNotFound
// when the queue does not exist, or was created by a cloudrole that
// recorded no configuration (declare it once with Queue, as its workers do
// when they start); ErrStrandedJobs when a level stream beyond the stored
// levels holds jobs; ErrBadName.
func (c *Client) OpenQueue(ctx context.Context, name string) (*Queue, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	lay, err := c.readLayout(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(lay.levels) == 0 {
		return nil, fmt.Errorf("queue %q: %w: no stream %s; declare it with Queue or UpdateQueue", name, ErrNotFound, levelStream(name, 0))
	}
	if lay.record() == "" {
		return nil, fmt.Errorf("queue %q: %w: configuration (stream %s has no %s record: the queue was created by an earlier cloudrole); declare it once with Queue, as its workers do when they start, or set it with UpdateQueue",
			name, ErrNotFound, levelStream(name, 0), configKey)
	}
	cfg, err := lay.config(name)
	if err != nil {
		return nil, err
	}
	if err := lay.strays(name, cfg.Levels); err != nil {
		return nil, err
	}
	return c.build(ctx, name, cfg, lay, false)
}

// UpdateQueue creates the queue called name, or changes it to cfg: its
// streams, consumers, status bucket and stored configuration. More levels
// add streams; fewer levels are allowed only while the levels that go are
// empty, and then their streams and consumers are deleted — otherwise it
// changes nothing and returns an error wrapping ErrStrandedJobs that names
// each such level, its stream and the jobs it holds. A level is first
// detached from its subject, so a producer still using the old level count
// gets an error instead of storing a job that nothing would read.
//
// Workers and producers that opened the queue before keep the
// configuration they opened it with until they open it again. Turning
// TrackStatus off leaves the status bucket to expire. Updating to the
// stored configuration is a no-op on the server. Errors wrap ErrBadName or
// ErrBadConfig (and change nothing) for bad input; an error while changing
// leaves the queue partly changed and UpdateQueue may be called again.
func (c *Client) UpdateQueue(ctx context.Context, name string, cfg Config) (*Queue, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	explicit := cfg.MaxPayload != 0
	cfg, err := resolve(cfg)
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	if err := c.payloadFits(cfg.MaxPayload, explicit); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	lay, err := c.readLayout(ctx, name)
	if err != nil {
		return nil, err
	}
	// A malformed record is overwritten; a newer one is not, since it may
	// hold settings this version would drop.
	if _, err := lay.config(name); errors.As(err, new(*errNewerRecord)) {
		return nil, err
	}
	var gone []int
	for l := range lay.levels {
		if l >= cfg.Levels {
			gone = append(gone, l)
		}
	}
	slices.Sort(gone)
	held := lay.held(name, gone)
	sched, err := c.scheduledAt(ctx, name, gone)
	if err != nil {
		return nil, err
	}
	held = append(held, sched...)
	if len(held) > 0 {
		return nil, fmt.Errorf("queue %q: %w: going to %d levels would leave them where no worker reads them: %s; let workers drain %s first; nothing was changed",
			name, ErrStrandedJobs, cfg.Levels, strings.Join(held, "; "), those(len(held)))
	}
	for _, l := range slices.Backward(gone) {
		if err := c.removeLevel(ctx, name, l, lay.levels[l]); err != nil {
			return nil, err
		}
	}
	return c.build(ctx, name, cfg, lay, true)
}

// payloadFits refuses an explicit MaxPayload the connected server could
// never carry (its max_payload, less the room a dead letter needs), so the
// mistake shows when the queue is declared rather than at each enqueue. The
// default MaxPayload is left to the enqueue check: it equals a default
// external server's max_payload, and jobs a little smaller still fit.
func (c *Client) payloadFits(maxPayload int, explicit bool) error {
	limit := c.nc.MaxPayload()
	if !explicit || limit <= 0 || int64(maxPayload)+deadLetterRoom <= limit {
		return nil
	}
	return fmt.Errorf("%w: MaxPayload %d does not fit the server's max_payload of %d bytes (less %d kept for dead-letter headers); raise max_payload on the server or lower MaxPayload",
		ErrBadConfig, maxPayload, limit, deadLetterRoom)
}

func those(n int) string {
	if n == 1 {
		return "that level"
	}
	return "those levels"
}

// layout is what the server holds of a queue's level streams, read once
// before anything is changed.
type layout struct {
	levels map[int]*jetstream.StreamInfo // by level, including strays beyond the stored levels
}

// record returns the configuration record on the level-0 stream, or "".
func (lay layout) record() string {
	if s := lay.levels[0]; s != nil {
		return s.Config.Metadata[configKey]
	}
	return ""
}

// config decodes the record.
func (lay layout) config(name string) (Config, error) {
	cfg, err := decodeConfig(lay.record())
	if err != nil {
		return Config{}, fmt.Errorf("queue %q: stream %s: %w", name, levelStream(name, 0), err)
	}
	return cfg, nil
}

// held describes, for each of levels whose stream holds jobs, the level,
// its stream and the count.
func (lay layout) held(name string, levels []int) []string {
	var out []string
	for _, l := range levels {
		if s := lay.levels[l]; s != nil && s.State.Msgs > 0 {
			out = append(out, fmt.Sprintf("level %d (stream %s) holds %d %s", l, levelStream(name, l), s.State.Msgs, jobs(s.State.Msgs)))
		}
	}
	return out
}

func jobs(n uint64) string {
	if n == 1 {
		return "job"
	}
	return "jobs"
}

// strays refuses a queue of the given levels when a stream of a higher
// level holds jobs: none of its workers would read them. Empty strays are
// left alone (UpdateQueue removes them).
func (lay layout) strays(name string, levels int) error {
	var above []int
	for l := range lay.levels {
		if l >= levels {
			above = append(above, l)
		}
	}
	slices.Sort(above)
	held := lay.held(name, above)
	if len(held) == 0 {
		return nil
	}
	var rm []string
	top := 0
	for _, l := range above {
		if lay.levels[l].State.Msgs > 0 {
			rm, top = append(rm, "nats stream rm "+levelStream(name, l)), l
		}
	}
	return fmt.Errorf("queue %q: %w: no worker of its %d levels (0..%d) reads them: %s; UpdateQueue with Levels %d lets workers drain %s, or %s drops them",
		name, ErrStrandedJobs, levels, levels-1, strings.Join(held, "; "), top+1, those(len(held)), strings.Join(rm, " and "))
}

// levelSubjects matches the subjects of every level of queue q.
func levelSubjects(q string) string { return "cloudrole.queue." + q + ".*" }

// retiredSubject is the subject a level stream takes while it is being
// removed, so that no publish reaches it.
func retiredSubject(q string, l int) string {
	return "cloudrole.retired." + q + "." + strconv.Itoa(l)
}

// readLayout lists the streams holding the queue's subjects: its level
// streams (with their configs, record and job counts, in one request) and
// the single stream of cloudrole's first layout, which is refused.
func (c *Client) readLayout(ctx context.Context, name string) (layout, error) {
	var infos []*jetstream.StreamInfo
	err := provision(ctx, func(ctx context.Context) error {
		infos = infos[:0]
		l := c.js.ListStreams(ctx, jetstream.WithStreamListSubject(levelSubjects(name)))
		for info := range l.Info() {
			infos = append(infos, info)
		}
		return l.Err()
	})
	if err != nil {
		return layout{}, fmt.Errorf("queue %q: listing its streams: %w", name, err)
	}
	lay := layout{levels: map[int]*jetstream.StreamInfo{}}
	prefix := levelStream(name, 0)
	prefix = prefix[:len(prefix)-1]
	for _, info := range infos {
		sn := info.Config.Name
		if sn == oldStreamName(name) {
			return layout{}, fmt.Errorf("queue %q: stream %s holds this queue's jobs in the single-stream layout of an earlier cloudrole; this version keeps one stream per level: let a worker of the earlier version drain it, then delete it (nats stream rm %s)",
				name, sn, sn)
		}
		rest, ok := strings.CutPrefix(sn, prefix)
		if !ok {
			continue // another stream on these subjects; its creation would have failed ours
		}
		if l, err := strconv.Atoi(rest); err == nil && l >= 0 && levelStream(name, l) == sn {
			lay.levels[l] = info
		}
	}
	return lay, nil
}

// legacyFacts reads the settings that the streams, consumer and status
// bucket of a queue without a record hold, and which ones they are. Its
// level count is one more than its highest level stream, so that a level
// left behind by an earlier level change counts as part of it.
func (c *Client) legacyFacts(ctx context.Context, name string, lay layout) (Config, map[string]bool, error) {
	var f Config
	known := map[string]bool{"Levels": true}
	f.Levels = slices.Max(slices.Collect(maps.Keys(lay.levels))) + 1
	if s := lay.levels[0]; s != nil {
		sc := s.Config
		f.MaxBacklog = max(sc.MaxMsgs, 0)
		f.Replicas = sc.Replicas
		f.DuplicateWindow = sc.Duplicates
		known["MaxBacklog"], known["Replicas"], known["DuplicateWindow"] = true, true, true
		if sc.MaxMsgSize > 64<<10 {
			f.MaxPayload, known["MaxPayload"] = int(sc.MaxMsgSize)-64<<10, true
		}
		var cons jetstream.Consumer
		err := provision(ctx, func(ctx context.Context) (err error) {
			cons, err = c.js.Consumer(ctx, sc.Name, consumerName(name, 0))
			return err
		})
		switch {
		case err == nil:
			f.AckWait, known["AckWait"] = cons.CachedInfo().Config.AckWait, true
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return f, nil, fmt.Errorf("queue %q: consumer for level 0: %w", name, err)
		}
	}
	var dlq jetstream.Stream
	err := provision(ctx, func(ctx context.Context) (err error) {
		dlq, err = c.js.Stream(ctx, dlqStreamName(name))
		return err
	})
	switch {
	case err == nil:
		f.DeadLetterMaxAge, known["DeadLetterMaxAge"] = dlq.CachedInfo().Config.MaxAge, true
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return f, nil, fmt.Errorf("queue %q: dead-letter stream: %w", name, err)
	}
	var ttl time.Duration
	err = provision(ctx, func(ctx context.Context) error {
		kv, err := c.js.KeyValue(ctx, statusBucket(name))
		if err != nil {
			return err
		}
		st, err := kv.Status(ctx)
		if err == nil {
			ttl = st.TTL()
		}
		return err
	})
	switch {
	case err == nil:
		f.TrackStatus, f.StatusTTL = true, ttl
		known["StatusTTL"] = true
	case !errors.Is(err, jetstream.ErrBucketNotFound):
		return f, nil, fmt.Errorf("queue %q: status bucket: %w", name, err)
	}
	known["TrackStatus"] = true
	return f, known, nil
}

// adopt records cfg on the level-0 stream of a queue that has none,
// changing nothing else of the stream. Without a level-0 stream there is
// nothing to change: build creates it with the record.
func (c *Client) adopt(ctx context.Context, name string, lay layout, cfg Config) error {
	s := lay.levels[0]
	if s == nil {
		return nil
	}
	sc := s.Config
	sc.Metadata = maps.Clone(sc.Metadata)
	if sc.Metadata == nil {
		sc.Metadata = map[string]string{}
	}
	sc.Metadata[configKey] = encodeConfig(cfg)
	err := provision(ctx, func(ctx context.Context) error {
		_, err := c.js.UpdateStream(ctx, sc)
		return err
	})
	if err != nil {
		return fmt.Errorf("queue %q: recording its configuration on stream %s: %w", name, sc.Name, err)
	}
	return nil
}

// removeLevel deletes the stream (and so the consumer) of level l, found
// empty when the layout was read. It first moves the stream off the
// level's subject, so that a publish after that fails instead of storing a
// job, then looks again: a job that came in before is kept, the subject
// restored and the removal refused.
func (c *Client) removeLevel(ctx context.Context, name string, l int, info *jetstream.StreamInfo) error {
	sn := levelStream(name, l)
	retired := info.Config
	retired.Subjects = []string{retiredSubject(name, l)}
	retired.RePublish = nil
	retired.Sources = nil
	var msgs uint64
	err := provision(ctx, func(ctx context.Context) error {
		s, err := c.js.UpdateStream(ctx, retired)
		if err != nil {
			return err
		}
		msgs = s.CachedInfo().State.Msgs
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue %q: detaching stream %s of level %d from its subject: %w", name, sn, l, err)
	}
	if msgs > 0 {
		err := provision(ctx, func(ctx context.Context) error {
			_, err := c.js.UpdateStream(ctx, info.Config)
			return err
		})
		if err != nil {
			return fmt.Errorf("queue %q: %w: level %d (stream %s) received %d %s while being removed, and its subject could not be restored (%v): restore it with UpdateQueue and Levels %d",
				name, ErrStrandedJobs, l, sn, msgs, jobs(msgs), err, l+1)
		}
		return fmt.Errorf("queue %q: %w: level %d (stream %s) received %d %s while being removed; it was kept: let workers drain it, then update",
			name, ErrStrandedJobs, l, sn, msgs, jobs(msgs))
	}
	err = provision(ctx, func(ctx context.Context) error {
		err := c.js.DeleteStream(ctx, sn)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil // a retried delete that had succeeded
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("queue %q: deleting stream %s of level %d: %w", name, sn, l, err)
	}
	err = provision(ctx, func(ctx context.Context) error {
		err := c.js.DeleteConsumer(ctx, schedStream(name), dueConsumer(name, l))
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("queue %q: deleting consumer %s of level %d's scheduled jobs: %w", name, dueConsumer(name, l), l, err)
	}
	return nil
}

// scheduledAt describes, for each of levels that has scheduled jobs
// waiting in the schedule stream, the level and the count: removing such
// a level would leave them to fall due where no worker reads.
func (c *Client) scheduledAt(ctx context.Context, name string, levels []int) ([]string, error) {
	if len(levels) == 0 {
		return nil, nil
	}
	var out []string
	for _, l := range levels {
		var n uint64
		err := provision(ctx, func(ctx context.Context) error {
			s, err := c.js.Stream(ctx, schedStream(name))
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return nil // made by an earlier cloudrole: nothing scheduled
			}
			if err != nil {
				return err
			}
			info, err := s.Info(ctx, jetstream.WithSubjectFilter(atLevel(name, l)))
			if err != nil {
				return err
			}
			n = uint64(len(info.State.Subjects))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("queue %q: counting the scheduled jobs of level %d: %w", name, l, err)
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("level %d has %d scheduled %s (stream %s)", l, n, jobs(n), schedStream(name)))
		}
	}
	rec, err := c.recurringAt(ctx, name, levels)
	if err != nil {
		return nil, err
	}
	return append(out, rec...), nil
}

// recurringAt names the recurring schedules that fire jobs at levels.
func (c *Client) recurringAt(ctx context.Context, name string, levels []int) ([]string, error) {
	var out []string
	err := provision(ctx, func(ctx context.Context) error {
		out = out[:0]
		s, err := c.js.Stream(ctx, schedStream(name))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(recurringSubjects(name)))
		if err != nil {
			return err
		}
		for subj := range info.State.Subjects {
			raw, err := s.GetLastMsgForSubject(ctx, subj)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			target := raw.Header.Get(jetstream.ScheduleTargetHeader)
			for _, l := range levels {
				if target == dueSubject(name, l) || strings.HasPrefix(target, dueSubject(name, l)+".") {
					out = append(out, fmt.Sprintf("level %d has the recurring schedule %q (remove it, or set it at another level)", l, raw.Header.Get(hdrSchedule)))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue %q: listing its recurring schedules: %w", name, err)
	}
	return out, nil
}

// build makes sure every part of the queue exists for cfg and returns the
// queue. With change false (Queue, OpenQueue) it creates missing parts and
// binds to existing ones as they are, level 0 first: a process racing to
// create the queue with other settings then finds its record and fails
// before creating anything. With change true (UpdateQueue) it creates or
// updates every part, level 0 (the record) last.
func (c *Client) build(ctx context.Context, name string, cfg Config, lay layout, change bool) (*Queue, error) {
	q := &Queue{c: c, name: name, cfg: cfg, consumers: make([]jetstream.Consumer, cfg.Levels), bells: bellSubjects(name, cfg.Levels), subjects: levelSubjectList(name, cfg.Levels)}
	// The schedule stream and the consumers its jobs fall due through come
	// first: a level stream whose source's consumer does not exist yet
	// waits for the server to retry the source, seconds later.
	if err := c.buildSchedules(ctx, q, change); err != nil {
		return nil, err
	}
	order := make([]int, cfg.Levels)
	for l := range order {
		order[l] = l
	}
	if change {
		slices.Reverse(order)
	}
	for _, l := range order {
		if change || lay.levels[l] == nil {
			var s jetstream.Stream
			err := provision(ctx, func(ctx context.Context) (err error) {
				if change {
					s, err = ensureStream(ctx, c.js, levelStreamConfig(name, l, cfg))
				} else {
					s, err = createOrBindStream(ctx, c.js, levelStreamConfig(name, l, cfg))
				}
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("queue %q: stream for level %d: %w", name, l, err)
			}
			if !change && l == 0 {
				// Created by another process since the layout was read?
				// Then its record decides.
				if err := racedRecord(name, s, cfg); err != nil {
					return nil, err
				}
			}
		} else if !hasDueSource(lay.levels[l].Config, name, l) {
			// Made by a cloudrole before scheduled jobs: add the part
			// it lacks, changing nothing else.
			sc := lay.levels[l].Config
			sc.Sources = append(slices.Clone(sc.Sources), dueSource(name, l, cfg))
			err := provision(ctx, func(ctx context.Context) error {
				_, err := c.js.UpdateStream(ctx, sc)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("queue %q: adding the source of scheduled jobs to stream %s: %w", name, sc.Name, err)
			}
		}
		ccfg := levelConsumerConfig(name, l, cfg)
		if change && !cfg.Fairness {
			// Fairness off: the level's consumer takes every job again,
			// which a WorkQueue stream allows only once no key has a
			// consumer of its own.
			if err := c.dropKeyConsumers(ctx, name, l); err != nil {
				return nil, err
			}
		}
		err := provision(ctx, func(ctx context.Context) (err error) {
			if change {
				q.consumers[l], err = c.js.CreateOrUpdateConsumer(ctx, levelStream(name, l), ccfg)
			} else {
				q.consumers[l], err = createOrBindConsumer(ctx, c.js, levelStream(name, l), ccfg)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("queue %q: consumer for level %d: %w", name, l, err)
		}
	}
	err := provision(ctx, func(ctx context.Context) (err error) {
		if change {
			q.dlq, err = ensureStream(ctx, c.js, dlqStreamConfig(name, cfg))
		} else {
			q.dlq, err = createOrBindStream(ctx, c.js, dlqStreamConfig(name, cfg))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue %q: dead-letter stream: %w", name, err)
	}
	if err := c.buildTokens(ctx, name, cfg, change); err != nil {
		return nil, err
	}
	if cfg.TrackStatus {
		err = provision(ctx, func(ctx context.Context) (err error) {
			if change {
				q.status, err = ensureKV(ctx, c.js, statusBucketConfig(name, cfg))
			} else {
				q.status, err = createOrBindKV(ctx, c.js, statusBucketConfig(name, cfg))
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("queue %q: status bucket: %w", name, err)
		}
		err = provision(ctx, func(ctx context.Context) (err error) {
			if change {
				q.ctl, err = ensureKV(ctx, c.js, ctlBucketConfig(name, cfg))
			} else {
				q.ctl, err = createOrBindKV(ctx, c.js, ctlBucketConfig(name, cfg))
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("queue %q: control bucket: %w", name, err)
		}
	}
	c.register(q)
	return q, nil
}

// buildSchedules creates (or, with change, updates) the schedule stream
// and one consumer per level through which its jobs fall due.
func (c *Client) buildSchedules(ctx context.Context, q *Queue, change bool) error {
	err := provision(ctx, func(ctx context.Context) (err error) {
		if change {
			q.sched, err = ensureStream(ctx, c.js, schedStreamConfig(q.name, q.cfg))
		} else {
			q.sched, err = createOrBindStream(ctx, c.js, schedStreamConfig(q.name, q.cfg))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("queue %q: schedule stream: %w", q.name, err)
	}
	for l := range q.cfg.Levels {
		ccfg := dueConsumerConfig(q.name, l, q.cfg)
		err := provision(ctx, func(ctx context.Context) (err error) {
			if change {
				_, err = c.js.CreateOrUpdatePushConsumer(ctx, schedStream(q.name), ccfg)
			} else {
				_, err = c.js.CreatePushConsumer(ctx, schedStream(q.name), ccfg)
				if errors.Is(err, jetstream.ErrConsumerExists) {
					err = nil // bound as it is
				}
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("queue %q: consumer of level %d's scheduled jobs: %w", q.name, l, err)
		}
	}
	return nil
}

// racedRecord compares the record on level-0 stream s with cfg.
func racedRecord(name string, s jetstream.Stream, cfg Config) error {
	rec := s.CachedInfo().Config.Metadata[configKey]
	if rec == "" || rec == encodeConfig(cfg) {
		return nil
	}
	stored, err := decodeConfig(rec)
	if err != nil {
		return fmt.Errorf("queue %q: stream %s: %w", name, levelStream(name, 0), err)
	}
	if d := diffs(stored, cfg, nil); len(d) > 0 {
		return &ConfigMismatchError{Queue: name, Diffs: d}
	}
	return nil
}

// register makes q the queue the client reports under its name, carrying
// over the counters of the queue it replaces.
func (c *Client) register(q *Queue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.queues[q.name]; ok {
		q.stats.inflight.Store(old.stats.inflight.Load())
		q.stats.processed.Store(old.stats.processed.Load())
		q.stats.failed.Store(old.stats.failed.Load())
		q.stats.dead.Store(old.stats.dead.Load())
		q.stats.cancelled.Store(old.stats.cancelled.Load())
	}
	c.queues[q.name] = q
}

// levelStreamConfig is the stream of level l; level 0's carries the
// queue's configuration record.
func levelStreamConfig(name string, l int, cfg Config) jetstream.StreamConfig {
	subject := levelSubject(name, l)
	maxMsgs := int64(-1)
	if cfg.MaxBacklog > 0 {
		maxMsgs = cfg.MaxBacklog
	}
	sc := jetstream.StreamConfig{
		Name:        levelStream(name, l),
		Description: fmt.Sprintf("cloudrole queue %s level %d", name, l),
		Subjects:    []string{subject},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxMsgs:     maxMsgs,
		Discard:     jetstream.DiscardNew,
		MaxMsgSize:  int32(cfg.MaxPayload + 64<<10), // room for headers
		Duplicates:  cfg.DuplicateWindow,
		// Scheduled jobs of the level, as they fall due.
		Sources: []*jetstream.StreamSource{dueSource(name, l, cfg)},
	}
	if cfg.Fairness {
		// The jobs of each key on a subject of their own. Idle workers
		// wait on a headers-only copy of every stored job, whose
		// Nats-Subject names the key (see bell.go; without Fairness the
		// producers ring).
		sc.Subjects = append(sc.Subjects, keySubjects(name, l))
		sc.RePublish = &jetstream.RePublish{Source: ">", Destination: bellLevelSubject(name, l) + ".>", HeadersOnly: true}
	}
	if l == 0 {
		sc.Metadata = map[string]string{configKey: encodeConfig(cfg)}
	}
	return sc
}

func levelConsumerConfig(name string, l int, cfg Config) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:     consumerName(name, l),
		Description: fmt.Sprintf("cloudrole queue %s level %d", name, l),
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     cfg.AckWait,
		// Unlimited at the server: the worker counts attempts and
		// dead-letters itself, so a job whose last attempt died with its
		// worker is still dead-lettered, never left stuck.
		MaxDeliver:    -1,
		MaxAckPending: -1,
		Replicas:      cfg.Replicas,
	}
	if cfg.Fairness {
		c.FilterSubject = levelSubject(name, l) // the jobs without a key; each key has its own
	}
	return c
}

func dlqStreamConfig(name string, cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        dlqStreamName(name),
		Description: "cloudrole dead letters of queue " + name,
		Subjects:    []string{dlqSubject(name)},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.DeadLetterMaxAge,
		Duplicates:  cfg.DuplicateWindow,
	}
}

func statusBucketConfig(name string, cfg Config) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      statusBucket(name),
		Description: "cloudrole job status of queue " + name,
		TTL:         cfg.StatusTTL,
		Replicas:    cfg.Replicas,
		Storage:     jetstream.FileStorage,
	}
}
