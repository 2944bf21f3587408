package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecurringScheduleFires(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "rec", Config{TrackStatus: true})
	ctx := context.Background()
	if err := q.SetSchedule(ctx, Schedule{Name: "tick", Every: time.Second}, []byte("tock"), WithPriority(High), WithHeader("X-From", "schedule")); err != nil {
		t.Fatal(err)
	}
	if err := q.SetSchedule(ctx, Schedule{Name: "cron", Cron: "* * * * * *", TimeZone: "Europe/Amsterdam"}, []byte("c")); err != nil {
		t.Fatal(err)
	}
	type fire struct {
		j  *Job
		at time.Time
	}
	fires := make(chan fire, 64)
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error { fires <- fire{j, time.Now()}; return nil }, WorkerOptions{Concurrency: 4})
	seen := map[string]map[int64]bool{"tick": {}, "cron": {}} // fire times, unix seconds
	for len(seen["tick"]) < 3 || len(seen["cron"]) < 3 {
		f := recv(t, fires, "a fire")
		name, stamp, ok := strings.Cut(f.j.ID, ".")
		if !ok || seen[name] == nil {
			t.Fatalf("fired job ID %q, want <schedule>.<time>", f.j.ID)
		}
		if f.j.Due.IsZero() || f.j.Due.Truncate(time.Second) != f.j.Due || stamp != f.j.Due.UTC().Format("20060102T150405Z") {
			t.Fatalf("job %s due %v: want its fire time, whole seconds, in the ID", f.j.ID, f.j.Due)
		}
		if late := f.at.Sub(f.j.Due); late < 0 || late > time.Second {
			t.Fatalf("job %s started %v after its fire time", f.j.ID, late)
		}
		if seen[name][f.j.Due.Unix()] {
			t.Fatalf("fire %s enqueued twice", f.j.ID)
		}
		seen[name][f.j.Due.Unix()] = true
		if name == "tick" {
			if f.j.Priority != High || string(f.j.Payload) != "tock" || f.j.Headers.Get("X-From") != "schedule" {
				t.Fatalf("tick fired %+v", f.j.Headers)
			}
		}
	}
	// Consecutive fires are a second apart.
	for name, times := range seen {
		for at := range times {
			if !times[at+1] && !times[at-1] {
				t.Errorf("%s fired at %v with no neighbour a second away: %v", name, at, times)
			}
		}
	}
}

func TestSetScheduleIdempotentListRemove(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "recidem", Config{Fairness: true})
	other, err := peerClient(t, c).OpenQueue(context.Background(), "recidem")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := Schedule{Name: "nightly", Cron: "0 30 2 * * *", TimeZone: "Europe/Amsterdam"}
	opts := []EnqueueOption{WithPriority(Low), WithKey("tenant-1")}
	seq := func() uint64 {
		raw, err := q.sched.GetLastMsgForSubject(ctx, recurringSubject("recidem", "nightly"))
		if err != nil {
			t.Fatal(err)
		}
		return raw.Sequence
	}
	// Every instance declares it at start, some at the same moment.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qq := q
			if i%2 == 1 {
				qq = other
			}
			if err := qq.SetSchedule(ctx, s, []byte("report"), opts...); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	first := seq()
	info, err := q.sched.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("schedule stream holds %d messages, want the one schedule: %v", info.State.Msgs, err)
	}
	if err := other.SetSchedule(ctx, s, []byte("report"), opts...); err != nil || seq() != first {
		t.Fatalf("redeclaring rewrote the schedule (seq %d, was %d): %v", seq(), first, err)
	}
	list, err := q.Schedules(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("schedules %+v, %v", list, err)
	}
	got := list[0]
	if got.Name != "nightly" || got.Cron != s.Cron || got.TimeZone != s.TimeZone || got.Priority != Low || got.Key != "tenant-1" ||
		string(got.Payload) != "report" || got.Next.IsZero() || got.Next.Hour() != 2 || got.Next.Minute() != 30 {
		t.Fatalf("listed %+v", got)
	}
	// A changed definition replaces it.
	if err := q.SetSchedule(ctx, s, []byte("report v2"), opts...); err != nil || seq() == first {
		t.Fatalf("changing the payload: %v (seq %d)", err, seq())
	}
	if list, _ := q.Schedules(ctx); len(list) != 1 || string(list[0].Payload) != "report v2" {
		t.Fatalf("after the change %+v", list)
	}
	if err := q.RemoveSchedule(ctx, "nightly"); err != nil {
		t.Fatal(err)
	}
	if err := q.RemoveSchedule(ctx, "nightly"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing twice: %v, want ErrNotFound", err)
	}
	if list, err := q.Schedules(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after removal %+v %v", list, err)
	}
}

func TestScheduleBadInput(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "recbad", Config{Levels: 2})
	ctx := context.Background()
	for name, tc := range map[string]struct {
		s    Schedule
		opts []EnqueueOption
		want error
		says string
	}{
		"5-field cron":     {Schedule{Name: "a", Cron: "*/5 * * * *"}, nil, ErrBadSchedule, `"0 */5 * * * *"`},
		"bad hour":         {Schedule{Name: "a", Cron: "0 0 25 * * *"}, nil, ErrBadSchedule, `hour field "25"`},
		"bad zone":         {Schedule{Name: "a", Cron: "0 0 0 * * *", TimeZone: "Mars/Olympus"}, nil, ErrBadSchedule, "Mars/Olympus"},
		"zone with Every":  {Schedule{Name: "a", Every: time.Minute, TimeZone: "UTC"}, nil, ErrBadSchedule, "TimeZone"},
		"both":             {Schedule{Name: "a", Cron: "* * * * * *", Every: time.Second}, nil, ErrBadSchedule, "both"},
		"neither":          {Schedule{Name: "a"}, nil, ErrBadSchedule, "neither"},
		"sub-second":       {Schedule{Name: "a", Every: 500 * time.Millisecond}, nil, ErrBadSchedule, "whole seconds"},
		"fractional":       {Schedule{Name: "a", Every: 1500 * time.Millisecond}, nil, ErrBadSchedule, "whole seconds"},
		"@every as cron":   {Schedule{Name: "a", Cron: "@every 5s"}, nil, ErrBadSchedule, "Every"},
		"bad name":         {Schedule{Name: "a.b", Every: time.Second}, nil, ErrBadSchedule, "name"},
		"with an ID":       {Schedule{Name: "a", Every: time.Second}, []EnqueueOption{WithID("x")}, ErrBadSchedule, "WithID"},
		"with a delay":     {Schedule{Name: "a", Every: time.Second}, []EnqueueOption{WithDelay(time.Second)}, ErrBadSchedule, "WithDelay"},
		"bad priority":     {Schedule{Name: "a", Every: time.Second}, []EnqueueOption{WithPriority(2)}, ErrBadPriority, "levels"},
		"key w/o Fairness": {Schedule{Name: "a", Every: time.Second}, []EnqueueOption{WithKey("k")}, ErrBadConfig, "Fairness"},
	} {
		err := q.SetSchedule(ctx, tc.s, nil, tc.opts...)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %v saying %q", name, err, tc.want, tc.says)
		}
	}
	if info, err := q.sched.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("something was stored: %+v %v", info.State, err)
	}
	// A schedule on a queue that does not exist: there is no queue to set it on.
	if _, err := c.OpenQueue(ctx, "nosuchqueue"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("opening a missing queue: %v", err)
	}
}

// Removing a level that a recurring schedule fires into would strand its
// jobs: UpdateQueue refuses and changes nothing.
func TestRemovingLevelOfASchedule(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "reclvl", Config{Levels: 3})
	ctx := context.Background()
	if err := q.SetSchedule(ctx, Schedule{Name: "low", Cron: "0 0 0 1 1 *"}, nil, WithPriority(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, nil, WithPriority(1), WithDelay(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err := c.UpdateQueue(ctx, "reclvl", Config{Levels: 1})
	if !errors.Is(err, ErrStrandedJobs) || !strings.Contains(err.Error(), `recurring schedule "low"`) || !strings.Contains(err.Error(), "level 1 has 1 scheduled job") {
		t.Fatalf("UpdateQueue to 1 level: %v", err)
	}
	if err := q.RemoveSchedule(ctx, "low"); err != nil {
		t.Fatal(err)
	}
}

// A queue whose streams were deleted after it was opened: setting a
// schedule on it says the queue is not there.
func TestScheduleOnDeletedQueue(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "gone", Config{})
	ctx := context.Background()
	if err := c.js.DeleteStream(ctx, schedStream("gone")); err != nil {
		t.Fatal(err)
	}
	err := q.SetSchedule(ctx, Schedule{Name: "x", Every: time.Minute}, nil)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetSchedule on a deleted schedule stream: %v, want ErrNotFound", err)
	}
}
