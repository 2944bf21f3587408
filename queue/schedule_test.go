package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// waitUntil blocks until the wall clock passes t: the server's scheduler
// runs on the real clock, so a test of a due time waits for it.
func waitUntil(t testing.TB, at time.Time) {
	t.Helper()
	if d := time.Until(at); d > 0 {
		<-time.After(d)
	}
}

func TestDelayedJobRunsWhenDue(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "later", Config{TrackStatus: true})
	ctx := context.Background()
	due := time.Now().Add(time.Second)
	id, err := q.Enqueue(ctx, []byte("later"), WithAt(due), WithPriority(High))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, []byte("now")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "scheduled status", 5*time.Second, func() bool {
		s, err := q.JobStatus(ctx, id)
		return err == nil && s.State == StateScheduled && s.Due.Equal(due.UTC().Truncate(time.Nanosecond))
	})
	type start struct {
		j  *Job
		at time.Time
	}
	started := make(chan start, 2)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		started <- start{j, time.Now()}
		return nil
	}, WorkerOptions{})
	if s := recv(t, started, "the immediate job"); string(s.j.Payload) != "now" {
		t.Fatalf("first job %q, want the immediate one", s.j.Payload)
	}
	s := recv(t, started, "the delayed job")
	if s.j.ID != id || s.j.Priority != High || string(s.j.Payload) != "later" {
		t.Fatalf("job %+v, want %s at High", s.j, id)
	}
	if s.at.Before(due) {
		t.Fatalf("started %v before its due time", due.Sub(s.at))
	}
	if !s.j.Due.Equal(due) {
		t.Errorf("Job.Due %v, want %v", s.j.Due, due)
	}
	if late := s.at.Sub(due); late > time.Second {
		t.Errorf("started %v late", late)
	}
	if s.j.Headers != nil {
		t.Errorf("scheduling headers reached the handler: %v", s.j.Headers)
	}
	waitFor(t, "succeeded status", 5*time.Second, func() bool {
		st, err := q.JobStatus(ctx, id)
		return err == nil && st.State == StateSucceeded
	})
	waitFor(t, "the fired copy removed from the schedule stream", 10*time.Second, func() bool {
		info, err := q.sched.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

func TestDelayedJobStatusWithoutTracking(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "untracked", Config{})
	ctx := context.Background()
	id, err := q.Enqueue(ctx, nil, WithDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := q.JobStatus(ctx, id)
	if err != nil || s.State != StateScheduled || time.Until(s.Due) < 59*time.Minute {
		t.Fatalf("status %+v, %v; want scheduled in an hour", s, err)
	}
	if _, err := q.Enqueue(ctx, nil, WithID("plain")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.JobStatus(ctx, "plain"); !errors.Is(err, ErrStatusOff) {
		t.Fatalf("status of a queued job without tracking: %v, want ErrStatusOff", err)
	}
}

func TestDelayBadInput(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "baddelay", Config{})
	ctx := context.Background()
	for name, opt := range map[string]EnqueueOption{
		"zero delay":     WithDelay(0),
		"negative delay": WithDelay(-time.Second),
		"past time":      WithAt(time.Now().Add(-time.Minute)),
		"zero time":      WithAt(time.Time{}),
	} {
		if _, err := q.Enqueue(ctx, nil, opt); !errors.Is(err, ErrBadSchedule) {
			t.Errorf("%s: %v, want ErrBadSchedule", name, err)
		}
		if _, err := q.EnqueueBatch(ctx, []Message{{Options: []EnqueueOption{opt}}}); !errors.Is(err, ErrBadSchedule) {
			t.Errorf("%s in a batch: %v, want ErrBadSchedule", name, err)
		}
	}
	info, err := q.sched.Info(ctx)
	if err != nil || info.State.Msgs != 0 || streamMsgs(t, q) != 0 {
		t.Fatalf("something was stored: %+v %v", info.State, err)
	}
}

// A scheduled job is the server's: it falls due and is enqueued while no
// cloudrole process runs, even when the server itself was down at the due
// time, and runs once.
func TestDelayedJobSurvivesRestarts(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Provider, *Queue) {
		p, err := NewProvider(Options{NATS: NATS{StoreDir: dir, Sync: "always"}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Client(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p, testQueue(t, c, "durable", Config{})
	}
	ctx := context.Background()
	p, q := open()
	due := time.Now().Add(1500 * time.Millisecond)
	var ids []string
	for i := range 3 {
		id, err := q.Enqueue(ctx, fmt.Appendf(nil, "%d", i), WithAt(due.Add(time.Duration(i)*time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, due.Add(200*time.Millisecond)) // the first falls due with no server running

	p, q = open()
	defer p.Close()
	var mu sync.Mutex
	runs := map[string]int{}
	stop := startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		mu.Lock()
		runs[j.ID]++
		mu.Unlock()
		return nil
	}, WorkerOptions{})
	waitFor(t, "the job due during the outage", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return runs[ids[0]] == 1
	})
	stop()
	for _, id := range ids[1:] {
		s, err := q.JobStatus(ctx, id)
		if err != nil || s.State != StateScheduled {
			t.Errorf("job %s due later: %+v %v, want still scheduled", id, s, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != 1 {
		t.Fatalf("runs %v, want only %s once", runs, ids[0])
	}
}

// A job falling due while its level is full waits in the schedule stream
// and enters once there is room: MaxBacklog holds and nothing is lost.
func TestDelayedJobWaitsForRoom(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "fullq", Config{MaxBacklog: 2, Levels: 1})
	ctx := context.Background()
	for i := range 2 {
		if _, err := q.Enqueue(ctx, fmt.Appendf(nil, "fill-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Enqueue(ctx, nil); !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("enqueue into a full level: %v", err)
	}
	due := time.Now().Add(500 * time.Millisecond)
	id, err := q.Enqueue(ctx, []byte("scheduled"), WithAt(due))
	if err != nil {
		t.Fatalf("scheduling into a full level: %v", err)
	}
	waitUntil(t, due.Add(time.Second))
	if n := streamMsgs(t, q); n != 2 {
		t.Fatalf("level holds %d jobs past its MaxBacklog of 2", n)
	}
	got := make(chan string, 3)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { got <- j.ID; return nil }, WorkerOptions{})
	seen := map[string]bool{}
	for range 3 {
		seen[recv(t, got, "a job")] = true
	}
	if !seen[id] {
		t.Fatalf("the scheduled job never ran: %v", seen)
	}
}

// A queue made by a cloudrole before scheduled jobs (level streams without
// the source, no schedule stream) gets the parts it lacks when declared,
// and its scheduled jobs run.
func TestEarlierQueueGetsSchedules(t *testing.T) {
	_, c := testClient(t)
	ctx := context.Background()
	cfg, err := resolve(Config{Levels: 2})
	if err != nil {
		t.Fatal(err)
	}
	for l := range cfg.Levels {
		sc := levelStreamConfig("old", l, cfg)
		sc.Sources = nil
		if _, err := c.js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
		if _, err := c.js.CreateConsumer(ctx, sc.Name, levelConsumerConfig("old", l, cfg)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.js.CreateStream(ctx, dlqStreamConfig("old", cfg)); err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue(ctx, "old", Config{Levels: 2})
	if err != nil {
		t.Fatal(err)
	}
	for l := range cfg.Levels {
		s, err := c.js.Stream(ctx, levelStream("old", l))
		if err != nil {
			t.Fatal(err)
		}
		if !hasDueSource(s.CachedInfo().Config, "old", l) {
			t.Fatalf("level %d has no source of scheduled jobs", l)
		}
	}
	ran := make(chan *Job, 1)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { ran <- j; return nil }, WorkerOptions{})
	id, err := q.Enqueue(ctx, []byte("x"), WithDelay(300*time.Millisecond), WithPriority(1))
	if err != nil {
		t.Fatal(err)
	}
	if j := recv(t, ran, "the scheduled job"); j.ID != id {
		t.Fatalf("ran %s, want %s", j.ID, id)
	}
}
