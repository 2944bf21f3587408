package console

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/fleet"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
)

// member is one instance as the fleet page shows it.
type member struct {
	fleet.Summary
	Role, Instance, Deployment string
	State                      string
	Gone, Self                 bool
	Age                        time.Duration
	// Status is the whole snapshot, read for the instance page only.
	Status lifecycle.Status
}

// fleetMembers reads every instance on the role's NATS (their envelopes:
// a summary each, not the whole snapshots), or only this one while the
// role has not connected (the fleet bucket lives on NATS).
func (c *Console) fleetMembers(ctx context.Context) ([]member, string) {
	self := c.o.Host.Status()
	me := member{Summary: self.Summary(), Role: self.Identity.Role, Instance: self.Identity.InstanceID,
		Deployment: self.Identity.Deployment, State: string(self.State), Self: true, Status: self}
	cl := c.client()
	if cl == nil {
		return []member{me}, "this role has not connected to NATS: the fleet shows only this instance"
	}
	ms, err := fleet.Read(ctx, cl, time.Now())
	if err != nil {
		return []member{me}, "fleet: " + err.Error()
	}
	out := make([]member, 0, len(ms)+1)
	found := false
	for _, m := range ms {
		if m.Role == me.Role && m.Instance == me.Instance {
			out, found = append(out, me), true // our own, fresher than the bucket's
			continue
		}
		out = append(out, member{Summary: m.Summary, Role: m.Role, Instance: m.Instance, Deployment: m.Deployment,
			State: m.State, Gone: m.Gone, Age: m.Age})
	}
	if !found {
		out = append([]member{me}, out...)
	}
	return out, ""
}

// instance finds one member and reads its whole snapshot.
func (c *Console) instance(ctx context.Context, role, inst string) (member, string) {
	ms, note := c.fleetMembers(ctx)
	for _, m := range ms {
		if m.Role != role || m.Instance != inst {
			continue
		}
		if !m.Self {
			if raw, err := fleet.Snapshot(ctx, c.client(), role, inst); err == nil {
				_ = json.Unmarshal(raw, &m.Status) // what does not decode stays zero
			}
		}
		return m, note
	}
	return member{}, "no instance " + inst + " of role " + role + " in the fleet"
}

func (c *Console) client() *queue.Client {
	if c.o.Queues == nil {
		return nil
	}
	return c.o.Queues.Started()
}

// queueRow is one queue on the queues page.
type queueRow struct {
	queue.Stats
	Waiting, Running  uint64
	OldestAge         time.Duration
	EnqRate, DoneRate float64 // jobs per second, over the samples kept
	Spark             []float64
	Err               string
}

// queueRows reads every queue's figures, a few queues at a time: each
// costs several requests to the server, and a page of fifty must not add
// their round trips up.
func (c *Console) queueRows(ctx context.Context) ([]queueRow, string) {
	cl := c.client()
	if cl == nil {
		return nil, "this role has not connected to NATS: there are no queues to show"
	}
	names, err := cl.QueueNames(ctx)
	if err != nil {
		return nil, err.Error()
	}
	return perQueue(names, func(n string) queueRow { return c.queueRow(ctx, cl, n) }), ""
}

// perQueue computes one row per queue name, in order, at most 8 at a time:
// each row is several round trips to NATS, and a fleet may have many
// queues.
func perQueue[T any](names []string, row func(name string) T) []T {
	rows := make([]T, len(names))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rows[i] = row(n)
		}()
	}
	wg.Wait()
	return rows
}

func (c *Console) queueRow(ctx context.Context, cl *queue.Client, name string) queueRow {
	row := queueRow{Stats: queue.Stats{Name: name}}
	q, err := c.open(ctx, cl, name)
	if err != nil {
		row.Err = err.Error()
		return row
	}
	st, err := q.Stats(ctx)
	if err != nil {
		c.forget(name) // it may have been changed or removed: open it afresh
		row.Err = err.Error()
		return row
	}
	row.Stats = st
	for l := range st.Waiting {
		row.Waiting += st.Waiting[l]
		row.Running += st.Running[l]
	}
	if !st.Oldest.IsZero() {
		row.OldestAge = time.Since(st.Oldest)
	}
	row.EnqRate, row.DoneRate, row.Spark = c.rates.add(name, st)
	return row
}

// open returns the queue as stored, opened once and kept: opening reads
// its layout, a handful of requests a page need not repeat.
func (c *Console) open(ctx context.Context, cl *queue.Client, name string) (*queue.Queue, error) {
	c.qmu.Lock()
	q := c.queues[name]
	c.qmu.Unlock()
	if q != nil {
		return q, nil
	}
	q, err := cl.OpenQueue(ctx, name)
	if err != nil {
		return nil, err
	}
	c.qmu.Lock()
	c.queues[name] = q
	c.qmu.Unlock()
	return q, nil
}

func (c *Console) forget(name string) {
	c.qmu.Lock()
	delete(c.queues, name)
	c.qmu.Unlock()
}

// rates keeps a few recent samples of each queue, so the pages can show
// enqueue and completion rates without a goroutine of their own: samples
// are taken when someone looks.
type rates struct {
	mu      sync.Mutex
	samples map[string][]sample
}

type sample struct {
	at        time.Time
	enq, done float64
}

const keepSamples = 60

func newRates() *rates { return &rates{samples: map[string][]sample{}} }

// add records st and returns the enqueue and completion rates over the
// kept samples, and the completion rate per interval for a sparkline.
func (r *rates) add(name string, st queue.Stats) (enq, done float64, spark []float64) {
	var e, waiting float64
	for l := range st.Enqueued {
		e += float64(st.Enqueued[l])
		waiting += float64(st.Waiting[l] + st.Running[l])
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	ss := r.samples[name]
	if n := len(ss); n == 0 || now.Sub(ss[n-1].at) >= time.Second {
		ss = append(ss, sample{at: now, enq: e, done: e - waiting})
		if len(ss) > keepSamples {
			ss = ss[len(ss)-keepSamples:]
		}
		r.samples[name] = ss
	}
	if len(ss) < 2 {
		return 0, 0, nil
	}
	first, last := ss[0], ss[len(ss)-1]
	dt := last.at.Sub(first.at).Seconds()
	for i := 1; i < len(ss); i++ {
		if d := ss[i].at.Sub(ss[i-1].at).Seconds(); d > 0 {
			spark = append(spark, max(0, (ss[i].done-ss[i-1].done)/d))
		}
	}
	return max(0, (last.enq-first.enq)/dt), max(0, (last.done-first.done)/dt), spark
}

// sortMembers puts live instances first, then by role and instance.
func sortMembers(ms []member) {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Gone != ms[j].Gone {
			return !ms[i].Gone
		}
		if ms[i].Role != ms[j].Role {
			return ms[i].Role < ms[j].Role
		}
		return ms[i].Instance < ms[j].Instance
	})
}
