package queue

import (
	"sync"
	"sync/atomic"
	"time"
)

// Event is something that happened to a job in a worker of this process:
// one of JobStarted, JobSucceeded, JobFailed, JobDeadLettered,
// JobSnoozed, JobCancelled and JobHandedBack. Observers added with Client.Observe receive them, so
// metrics and dashboards are built on the same facts the worker acts on.
type Event interface {
	// QueueName names the queue.
	QueueName() string
	// JobID is the job's ID.
	JobID() string
	isEvent()
}

// JobStarted: a handler started on a job. Waited is how long the job was
// stored before this attempt started (zero if the server did not say).
type JobStarted struct {
	Queue, ID string
	Priority  Priority
	Attempt   int
	Waited    time.Duration
}

// JobSucceeded: a handler returned nil; the job is acknowledged.
type JobSucceeded struct {
	Queue, ID string
	Priority  Priority
	Attempt   int
	Took      time.Duration
}

// JobFailed: a handler returned an error (or panicked) and the job will be
// retried after RetryIn.
type JobFailed struct {
	Queue, ID string
	Priority  Priority
	Attempt   int
	Took      time.Duration
	Err       error
	RetryIn   time.Duration
}

// JobDeadLettered: the job was stored in the dead-letter stream: its
// attempts are used up, its error was permanent, or it kept being
// delivered without an outcome. Took is how long its last handler call
// ran (zero when it was dead-lettered without running).
type JobDeadLettered struct {
	Queue, ID string
	Priority  Priority
	Attempts  int
	Took      time.Duration
	Err       error
}

// JobSnoozed: the handler snoozed the job (Snooze): it runs again at
// Until, as the same attempt. Snoozes counts its snoozes so far.
type JobSnoozed struct {
	Queue, ID string
	Priority  Priority
	Attempt   int
	Until     time.Time
	Snoozes   int
}

// JobCancelled: the job was cancelled (Queue.Cancel) and terminated.
// Running says whether its handler had started (and had its context
// cancelled).
type JobCancelled struct {
	Queue, ID string
	Priority  Priority
	Attempt   int
	Running   bool
}

// JobHandedBack: a stopping worker gave the job back unfinished (its drain
// timeout ran out) for another worker to take at once, as the same attempt.
type JobHandedBack struct {
	Queue, ID string
	Priority  Priority
	Attempt   int
}

func (e JobStarted) QueueName() string      { return e.Queue }
func (e JobSucceeded) QueueName() string    { return e.Queue }
func (e JobFailed) QueueName() string       { return e.Queue }
func (e JobDeadLettered) QueueName() string { return e.Queue }
func (e JobHandedBack) QueueName() string   { return e.Queue }
func (e JobCancelled) QueueName() string    { return e.Queue }
func (e JobSnoozed) QueueName() string      { return e.Queue }
func (e JobSnoozed) JobID() string          { return e.ID }
func (JobSnoozed) isEvent()                 {}
func (e JobCancelled) JobID() string        { return e.ID }
func (JobCancelled) isEvent()               {}
func (e JobStarted) JobID() string          { return e.ID }
func (e JobSucceeded) JobID() string        { return e.ID }
func (e JobFailed) JobID() string           { return e.ID }
func (e JobDeadLettered) JobID() string     { return e.ID }
func (e JobHandedBack) JobID() string       { return e.ID }
func (JobStarted) isEvent()                 {}
func (JobSucceeded) isEvent()               {}
func (JobFailed) isEvent()                  {}
func (JobDeadLettered) isEvent()            {}
func (JobHandedBack) isEvent()              {}

// observers is a Client's set of event observers. Reading it is one atomic
// load, so a worker with no observer pays nothing more per job.
type observers struct {
	mu   sync.Mutex
	next uint64
	list atomic.Pointer[[]observer]
}

type observer struct {
	id uint64
	fn func(Event)
}

// Observe adds fn to receive the events of every worker of this Client
// (every queue, this process), and returns the function that removes it
// (idempotent). fn is called synchronously on the worker's goroutines,
// concurrently for jobs running at once: it must be safe for concurrent
// use, return quickly and never block, or it slows the workers. A panic
// in fn is not recovered.
func (c *Client) Observe(fn func(Event)) (remove func()) {
	o := &c.observers
	o.mu.Lock()
	o.next++
	id := o.next
	var cur []observer
	if p := o.list.Load(); p != nil {
		cur = *p
	}
	next := append(append([]observer(nil), cur...), observer{id, fn})
	o.list.Store(&next)
	o.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			var kept []observer
			for _, ob := range *o.list.Load() {
				if ob.id != id {
					kept = append(kept, ob)
				}
			}
			if len(kept) == 0 {
				o.list.Store(nil)
				return
			}
			o.list.Store(&kept)
		})
	}
}

// observed reports whether any observer is registered.
func (c *Client) observed() bool { return c.observers.list.Load() != nil }

// emit delivers ev to every observer.
func (c *Client) emit(ev Event) {
	p := c.observers.list.Load()
	if p == nil {
		return
	}
	for _, ob := range *p {
		ob.fn(ev)
	}
}

// Observe is Client.Observe for the Provider's Client, made or to be made:
// an observer added before the first Client call is attached when the
// Client is made, so it sees every job event of the process's workers.
// It returns the function that removes it (idempotent).
func (p *Provider) Observe(fn func(Event)) (remove func()) {
	p.mu.Lock()
	if c := p.client; c != nil {
		p.mu.Unlock()
		return c.Observe(fn)
	}
	p.obsNext++
	id := p.obsNext
	if p.pendingObs == nil {
		p.pendingObs = map[uint64]func(Event){}
	}
	p.pendingObs[id] = fn
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			delete(p.pendingObs, id)
			r := p.attachedObs[id]
			delete(p.attachedObs, id)
			p.mu.Unlock()
			if r != nil {
				r()
			}
		})
	}
}

// attachObserversLocked moves the observers added before c existed onto
// it; p.mu is held.
func (p *Provider) attachObserversLocked(c *Client) {
	for id, fn := range p.pendingObs {
		if p.attachedObs == nil {
			p.attachedObs = map[uint64]func(){}
		}
		p.attachedObs[id] = c.Observe(fn)
	}
	p.pendingObs = nil
}
