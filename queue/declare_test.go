package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// workerConfig is the "thumbs" queue as its worker declares it.
var workerConfig = Config{MaxBacklog: 2, AckWait: 3 * time.Second, TrackStatus: true}

// serverView is what the server holds of a queue's settings.
type serverView struct {
	maxMsgs []int64
	ackWait []time.Duration
}

func viewOf(t testing.TB, c *Client, name string, levels int) serverView {
	t.Helper()
	ctx := context.Background()
	var v serverView
	for l := range levels {
		s, err := c.js.Stream(ctx, levelStream(name, l))
		if err != nil {
			t.Fatalf("stream of level %d: %v", l, err)
		}
		cons, err := c.js.Consumer(ctx, levelStream(name, l), consumerName(name, l))
		if err != nil {
			t.Fatalf("consumer of level %d: %v", l, err)
		}
		v.maxMsgs = append(v.maxMsgs, s.CachedInfo().Config.MaxMsgs)
		v.ackWait = append(v.ackWait, cons.CachedInfo().Config.AckWait)
	}
	return v
}

func streamExists(t testing.TB, c *Client, name string) bool {
	t.Helper()
	_, err := c.js.Stream(context.Background(), name)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestDeclareMismatchChangesNothing(t *testing.T) {
	_, worker := testClient(t)
	producer := peerClient(t, worker)
	ctx := context.Background()
	wq := testQueue(t, worker, "thumbs", workerConfig)
	before := viewOf(t, worker, "thumbs", 3)

	_, err := producer.Queue(ctx, "thumbs", Config{})
	mustErrIs(t, err, ErrConfigMismatch)
	var mm *ConfigMismatchError
	if !errors.As(err, &mm) || mm.Queue != "thumbs" || mm.Derived {
		t.Fatalf("error %v: want a *ConfigMismatchError for thumbs, from the record", err)
	}
	var names []string
	for _, d := range mm.Diffs {
		names = append(names, d.Setting)
	}
	if got := strings.Join(names, " "); got != "AckWait MaxBacklog TrackStatus" {
		t.Fatalf("differing settings %q, want AckWait MaxBacklog TrackStatus", got)
	}
	for _, want := range []string{
		`queue "thumbs"`,
		"AckWait: stored 3s, declared 30s",
		"MaxBacklog: stored 2, declared 0 (unlimited)",
		"TrackStatus: stored true, declared false",
		"OpenQueue", "UpdateQueue",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if after := viewOf(t, worker, "thumbs", 3); !reflect.DeepEqual(after, before) {
		t.Fatalf("server-side config changed by a refused declaration: %+v, was %+v", after, before)
	}
	if wq.Config().MaxBacklog != 2 || wq.Config().AckWait != 3*time.Second {
		t.Fatalf("worker's config %+v", wq.Config())
	}
	// The cap still holds for the producer's own jobs.
	pq, err := producer.OpenQueue(ctx, "thumbs")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := pq.Enqueue(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	_, err = pq.Enqueue(ctx, []byte("x"))
	mustErrIs(t, err, ErrBacklogFull)
}

func TestOpenQueueUsesStoredConfig(t *testing.T) {
	_, worker := testClient(t)
	producer := peerClient(t, worker)
	ctx := context.Background()

	_, err := producer.OpenQueue(ctx, "thumbs")
	mustErrIs(t, err, ErrNotFound)
	if !strings.Contains(err.Error(), `"thumbs"`) {
		t.Fatalf("error %q should name the queue", err)
	}

	wq := testQueue(t, worker, "thumbs", workerConfig)
	pq, err := producer.OpenQueue(ctx, "thumbs")
	if err != nil {
		t.Fatal(err)
	}
	if pq.Config() != wq.Config() {
		t.Fatalf("OpenQueue config %+v, worker declared %+v", pq.Config(), wq.Config())
	}
	// Declaring the Config a queue reports gives the same queue.
	if _, err := producer.Queue(ctx, "thumbs", pq.Config()); err != nil {
		t.Fatalf("declaring the reported config: %v", err)
	}

	gate := make(chan struct{})
	// The handler also ends with its context, so a failure below does not
	// leave the worker draining for ever.
	startWorker(t, ctx, wq, func(ctx context.Context, _ *Job) error {
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}, WorkerOptions{})
	id, err := pq.Enqueue(ctx, []byte("img-1"), WithID("img-1"))
	if err != nil {
		t.Fatal(err)
	}
	var st JobStatus
	waitFor(t, "the producer's job to be running", 10*time.Second, func() bool {
		st, err = pq.JobStatus(ctx, id)
		return err == nil && st.State == StateRunning
	})
	close(gate)
	waitFor(t, "the producer's job to succeed", 10*time.Second, func() bool {
		st, err = wq.JobStatus(ctx, id)
		return err == nil && st.State == StateSucceeded
	})
}

func TestUpdateQueueChangesServer(t *testing.T) {
	_, worker := testClient(t)
	admin := peerClient(t, worker)
	ctx := context.Background()
	testQueue(t, worker, "thumbs", workerConfig)

	next := Config{MaxBacklog: 5, AckWait: time.Second, TrackStatus: true}
	uq, err := admin.UpdateQueue(ctx, "thumbs", next)
	if err != nil {
		t.Fatal(err)
	}
	want := serverView{maxMsgs: []int64{5, 5, 5}, ackWait: []time.Duration{time.Second, time.Second, time.Second}}
	if got := viewOf(t, worker, "thumbs", 3); !reflect.DeepEqual(got, want) {
		t.Fatalf("after UpdateQueue the server holds %+v, want %+v", got, want)
	}
	// The worker's old declaration is now the one that differs.
	_, err = worker.Queue(ctx, "thumbs", workerConfig)
	mustErrIs(t, err, ErrConfigMismatch)
	if !strings.Contains(err.Error(), "MaxBacklog: stored 5, declared 2") || !strings.Contains(err.Error(), "AckWait: stored 1s, declared 3s") {
		t.Fatalf("error %q", err)
	}
	oq, err := worker.OpenQueue(ctx, "thumbs")
	if err != nil {
		t.Fatal(err)
	}
	if oq.Config() != uq.Config() || oq.Config().MaxBacklog != 5 {
		t.Fatalf("reopened config %+v, updated to %+v", oq.Config(), uq.Config())
	}
}

// apiRequests records the JetStream API requests c sends: a subscription
// on the same connection receives a copy of each before its reply, so
// once a call has returned every request it made is in the channel.
func apiRequests(t testing.TB, c *Client) func() []*nats.Msg {
	t.Helper()
	ch := make(chan *nats.Msg, 1024)
	sub, err := c.nc.ChanSubscribe("$JS.API.>", ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() []*nats.Msg {
		var out []*nats.Msg
		for {
			select {
			case m := <-ch:
				out = append(out, m)
			default:
				return out
			}
		}
	}
}

func TestRedeclareSendsNoUpdate(t *testing.T) {
	_, worker := testClient(t)
	other := peerClient(t, worker)
	ctx := context.Background()
	testQueue(t, worker, "thumbs", workerConfig)
	before := viewOf(t, worker, "thumbs", 3)
	requests := apiRequests(t, other)

	if _, err := other.Queue(ctx, "thumbs", workerConfig); err != nil {
		t.Fatal(err)
	}
	var creates int
	for _, m := range requests() {
		switch {
		case strings.HasPrefix(m.Subject, "$JS.API.STREAM.UPDATE."):
			t.Errorf("redeclaring an identical queue sent a stream update: %s %s", m.Subject, m.Data)
		case strings.HasPrefix(m.Subject, "$JS.API.CONSUMER.CREATE."):
			if strings.HasPrefix(m.Subject, "$JS.API.CONSUMER.CREATE."+levelStream("thumbs", 0)[:len(levelStream("thumbs", 0))-1]) {
				creates++ // a level's consumer; the others are the schedule stream's
			}
			var req struct {
				Action string `json:"action"`
			}
			if err := json.Unmarshal(m.Data, &req); err != nil || req.Action != "create" {
				t.Errorf("redeclaring sent a consumer request that may update it: %s %s", m.Subject, m.Data)
			}
		}
	}
	if creates != 3 {
		t.Fatalf("saw %d consumer requests, want one per level (is the API traffic visible?)", creates)
	}
	// UpdateQueue to the stored config changes nothing either.
	if _, err := other.UpdateQueue(ctx, "thumbs", workerConfig); err != nil {
		t.Fatal(err)
	}
	for _, m := range requests() {
		if strings.HasPrefix(m.Subject, "$JS.API.STREAM.UPDATE.") {
			t.Errorf("UpdateQueue to the stored config sent a stream update: %s", m.Subject)
		}
	}
	if after := viewOf(t, worker, "thumbs", 3); !reflect.DeepEqual(after, before) {
		t.Fatalf("server-side config %+v, was %+v", after, before)
	}
}

func TestLevelCountChanges(t *testing.T) {
	_, worker := testClient(t)
	admin := peerClient(t, worker)
	ctx := context.Background()
	testQueue(t, worker, "lv", Config{Levels: 3})

	_, err := admin.Queue(ctx, "lv", Config{Levels: 5})
	mustErrIs(t, err, ErrConfigMismatch)
	if !strings.Contains(err.Error(), "Levels: stored 3, declared 5") {
		t.Fatalf("error %q should name the level counts", err)
	}
	if streamExists(t, worker, levelStream("lv", 3)) {
		t.Fatal("a refused declaration created a level stream")
	}

	q5, err := admin.UpdateQueue(ctx, "lv", Config{Levels: 5})
	if err != nil {
		t.Fatal(err)
	}
	for l := range 5 {
		if !streamExists(t, worker, levelStream("lv", l)) {
			t.Fatalf("UpdateQueue to 5 levels: no stream for level %d", l)
		}
	}
	if _, err := q5.Enqueue(ctx, []byte("lowest"), WithPriority(4)); err != nil {
		t.Fatal(err)
	}

	_, err = admin.UpdateQueue(ctx, "lv", Config{Levels: 3})
	mustErrIs(t, err, ErrStrandedJobs)
	if !strings.Contains(err.Error(), "level 4 (stream CRQ_lv_p4) holds 1 job") {
		t.Fatalf("error %q should name the level, its stream and its jobs", err)
	}
	if oq, err := worker.OpenQueue(ctx, "lv"); err != nil || oq.Config().Levels != 5 {
		t.Fatalf("after a refused update: %v, %+v; want the queue unchanged at 5 levels", err, oq)
	}

	// A worker of the five levels drains it; then three levels are allowed.
	done := make(chan string, 1)
	stop := startWorker(t, ctx, q5, func(_ context.Context, j *Job) error { done <- string(j.Payload); return nil }, WorkerOptions{})
	if p := recv(t, done, "the level-4 job"); p != "lowest" {
		t.Fatalf("drained %q", p)
	}
	waitFor(t, "level 4 empty", 10*time.Second, func() bool {
		s, err := worker.js.Stream(ctx, levelStream("lv", 4))
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	stop()
	q3, err := admin.UpdateQueue(ctx, "lv", Config{Levels: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []int{3, 4} {
		if streamExists(t, worker, levelStream("lv", l)) {
			t.Fatalf("stream of level %d still exists after going to 3 levels", l)
		}
	}
	if q3.Config().Levels != 3 {
		t.Fatalf("updated queue has %d levels", q3.Config().Levels)
	}
	// A producer still holding the five-level queue cannot strand a job.
	if _, err := q5.Enqueue(ctx, []byte("late"), WithPriority(4)); err == nil {
		t.Fatal("an enqueue to a removed level succeeded")
	}
}

func TestStrayLevelRefused(t *testing.T) {
	_, c := testClient(t)
	other := peerClient(t, c)
	ctx := context.Background()
	q := testQueue(t, c, "stray", Config{})
	// A level-4 stream holding a job, as the level changes of an earlier
	// cloudrole left one.
	cfg := q.Config()
	if _, err := c.js.CreateStream(ctx, levelStreamConfig("stray", 4, cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.js.Publish(ctx, levelSubject("stray", 4), []byte("forgotten")); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() (*Queue, error){
		"Queue":       func() (*Queue, error) { return other.Queue(ctx, "stray", Config{}) },
		"OpenQueue":   func() (*Queue, error) { return other.OpenQueue(ctx, "stray") },
		"UpdateQueue": func() (*Queue, error) { return other.UpdateQueue(ctx, "stray", Config{}) },
	} {
		_, err := open()
		mustErrIs(t, err, ErrStrandedJobs)
		if !strings.Contains(err.Error(), "level 4 (stream CRQ_stray_p4) holds 1 job") {
			t.Errorf("%s: error %q should name the level, its stream and its job", name, err)
		}
	}
	if !streamExists(t, c, levelStream("stray", 4)) {
		t.Fatal("the stray stream was removed with its job")
	}
}

// TestQueueWithoutRecord covers queues made by a cloudrole that stored no
// configuration: here one that went from 3 to 5 levels and back, leaving
// a job at level 4.
func TestQueueWithoutRecord(t *testing.T) {
	_, c := testClient(t)
	other := peerClient(t, c)
	ctx := context.Background()
	q := testQueue(t, c, "old", Config{Levels: 5, MaxBacklog: 7})
	if _, err := q.Enqueue(ctx, []byte("stranded"), WithPriority(4)); err != nil {
		t.Fatal(err)
	}
	s, err := c.js.Stream(ctx, levelStream("old", 0))
	if err != nil {
		t.Fatal(err)
	}
	sc := s.CachedInfo().Config
	delete(sc.Metadata, configKey)
	if _, err := c.js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}

	_, err = other.OpenQueue(ctx, "old")
	mustErrIs(t, err, ErrNotFound)
	if !strings.Contains(err.Error(), "declare it once with Queue") {
		t.Fatalf("error %q should say to declare the queue", err)
	}
	_, err = other.Queue(ctx, "old", Config{Levels: 3, MaxBacklog: 7})
	mustErrIs(t, err, ErrConfigMismatch)
	var mm *ConfigMismatchError
	if !errors.As(err, &mm) || !mm.Derived || !strings.Contains(err.Error(), "Levels: stored 5, declared 3") {
		t.Fatalf("error %v: want a mismatch in Levels derived from the streams", err)
	}
	_, err = other.Queue(ctx, "old", Config{Levels: 5})
	if err == nil || !strings.Contains(err.Error(), "MaxBacklog: stored 7, declared 0 (unlimited)") {
		t.Fatalf("error %v: want a mismatch in MaxBacklog", err)
	}
	_, err = other.UpdateQueue(ctx, "old", Config{Levels: 3, MaxBacklog: 7})
	mustErrIs(t, err, ErrStrandedJobs)
	if !strings.Contains(err.Error(), "level 4 (stream CRQ_old_p4) holds 1 job") {
		t.Fatalf("error %q", err)
	}

	// Declaring what the streams hold adopts the queue: its config is
	// recorded and OpenQueue works.
	if _, err := other.Queue(ctx, "old", Config{Levels: 5, MaxBacklog: 7, MaxDeliver: 2}); err != nil {
		t.Fatal(err)
	}
	oq, err := c.OpenQueue(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := oq.Config(); cfg.Levels != 5 || cfg.MaxBacklog != 7 || cfg.MaxDeliver != 2 {
		t.Fatalf("adopted config %+v", cfg)
	}
}

func TestConcurrentDeclarationsOneWins(t *testing.T) {
	_, a := testClient(t)
	b := peerClient(t, a)
	ctx := context.Background()
	for round := range 5 {
		name := fmt.Sprintf("race%d", round)
		cfgs := []Config{{AckWait: time.Second}, {AckWait: 2 * time.Second}}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, c := range []*Client{a, b} {
			wg.Go(func() { _, errs[i] = c.Queue(ctx, name, cfgs[i]) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both declarations succeeded", round)
				}
				winner = i
			case !errors.Is(err, ErrConfigMismatch):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: both failed: %v", round, errs)
		}
		want := cfgs[winner].AckWait
		for l, d := range viewOf(t, a, name, 3).ackWait {
			if d != want {
				t.Fatalf("round %d: level %d AckWait %v, the winner declared %v", round, l, d, want)
			}
		}
	}
}

func TestConfigRecord(t *testing.T) {
	// Every setting is recorded and compared: changing any field of
	// Config changes the record and is named in the differences.
	base, err := resolve(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeConfig(encodeConfig(base)); err != nil || got != base {
		t.Fatalf("round trip of the defaults: %+v, %v", got, err)
	}
	rt := reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Name == "UseDefaultPriority" {
			continue
		}
		cfg := base
		v := reflect.ValueOf(&cfg).Elem().Field(i)
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int, reflect.Int64:
			if f.Type == reflect.TypeFor[time.Duration]() {
				v.SetInt(v.Int() + int64(time.Hour))
			} else {
				v.SetInt(v.Int() + 1)
			}
		case reflect.Float64:
			v.SetFloat(v.Float() + 1)
		default:
			t.Fatalf("field %s of kind %v: teach this test to change it", f.Name, v.Kind())
		}
		if f.Name == "RetryBase" {
			cfg.RetryMax += time.Hour
		}
		if f.Name == "FleetRateBurst" {
			cfg.FleetRateLimit = 1 // a burst needs a rate
		}
		cfg, err := resolve(cfg)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got, err := decodeConfig(encodeConfig(cfg))
		if err != nil || got != cfg {
			t.Errorf("%s: round trip %+v, %v; want %+v", f.Name, got, err, cfg)
		}
		var named bool
		for _, d := range diffs(base, cfg, nil) {
			named = named || d.Setting == f.Name
		}
		if !named {
			t.Errorf("changing %s is not reported as a difference: %v", f.Name, diffs(base, cfg, nil))
		}
	}
	for _, bad := range []string{
		`{"v":2,"levels":3}`,
		`{"v":1,"levels":3}`,
		`{"v":1,"levels":3,"extra":1}`,
		`not json`,
	} {
		if _, err := decodeConfig(bad); err == nil {
			t.Errorf("record %s accepted", bad)
		}
	}
	if _, err := decodeConfig(`{"v":3}`); !errors.As(err, new(*errNewerRecord)) || !strings.Contains(err.Error(), "newer cloudrole") {
		t.Errorf("a newer record: %v", err)
	}
	// A queue with the version-2 settings at their defaults is recorded
	// as version 1, which the cloudrole before them reads; a version-2
	// record must hold them all, a version-1 record none.
	v1 := encodeConfig(base)
	if !strings.HasPrefix(v1, `{"v":1,`) || strings.Contains(v1, "max_snoozes") {
		t.Errorf("defaults recorded as %s, want version 1", v1)
	}
	snoozy := base
	snoozy.MaxSnoozes = 7
	v2 := encodeConfig(snoozy)
	if !strings.HasPrefix(v2, `{"v":2,`) {
		t.Errorf("a non-default MaxSnoozes recorded as %s, want version 2", v2)
	}
	for _, bad := range []string{
		strings.Replace(v2, `"v":2`, `"v":1`, 1),
		strings.Replace(v1, `"v":1`, `"v":2`, 1),
	} {
		if _, err := decodeConfig(bad); err == nil {
			t.Errorf("record %s accepted", bad)
		}
	}
}
