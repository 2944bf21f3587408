package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"
)

// The dispatcher is one goroutine per worker that decides which level to
// ask for jobs, and how many, and hands what arrives to the executor. Its
// rule: the slots held (jobs running, plus finished jobs beyond the ack
// window whose ack the server has not confirmed; see executor.held) plus
// the jobs asked for and not yet received never exceed Concurrency, so a
// worker never holds a job it has no slot for and never runs far ahead of
// the server's acks. Within that bound it keeps up to pullLanes requests
// open, so the round trip of one is hidden behind the answers to the
// others; a further request waits until a quarter of the slots are free
// (or nothing is open), so a busy worker sends few large requests rather
// than one per finished job.

// maxBatch caps one pull request.
const maxBatch = 256

// bellGrace is how long a pull for an announced job waits for the consumer
// to see it.
const bellGrace = 5 * time.Millisecond

// dueGrace is how long a pull after a scheduled job fell due waits for the
// level stream to source it from the schedule stream (the request returns
// as soon as it arrives).
const dueGrace = 100 * time.Millisecond

// pullTimeout is how long past its own wait a request may stay unanswered
// before it is treated as lost (the server went away under it).
const pullTimeout = 5 * time.Second

// level is what a worker knows of one priority level. The atomics are
// written by the bell (the connection's goroutine), the fairness key
// makers and the dispatcher; fresh and current belong to the dispatcher.
type level struct {
	maybe     atomic.Bool   // may hold deliverable jobs
	waitSince atomic.Int64  // unix nanos since it waits unserved
	lastSeq   atomic.Uint64 // highest stream sequence fetched
	bellSeq   atomic.Uint64 // highest stream sequence announced
	gen       atomic.Uint64 // bumped each time it is marked
	due       atomic.Bool   // a scheduled job fell due and is being sourced onto the level
	hint      atomic.Bool   // a producer announced a job it is about to publish
	fair      *fairLevel    // its keys, taken in turn; nil without Fairness

	fresh   bool // not fetched yet
	current int  // smooth weighted round robin state
}

// mark notes that the level may hold jobs.
func (lv *level) mark(now int64) {
	lv.gen.Add(1)
	if lv.maybe.CompareAndSwap(false, true) {
		lv.waitSince.Store(now)
	}
}

// clear notes that the level had no job left when a request sent at mark
// generation gen was answered, unless it was marked since.
func (lv *level) clear(gen uint64) {
	if lv.gen.Load() != gen {
		return
	}
	lv.maybe.Store(false)
	if lv.gen.Load() != gen { // marked meanwhile: keep it
		lv.maybe.Store(true)
	}
}

// unseen says whether a job was announced that the level's consumer may
// not show yet: it was never fetched, or a bell named a later sequence
// than any fetched.
func (lv *level) unseen() bool {
	return lv.fresh || lv.bellSeq.Load() > lv.lastSeq.Load()
}

// dispatcher asks the server for jobs and hands them to its executor.
// Other goroutines reach it only through its wake-ups (wake, slotFree,
// noteDue), the levels' atomics and onBell; everything else is its own
// goroutine's, in dispatch.
type dispatcher struct {
	q      *Queue
	o      WorkerOptions
	log    *slog.Logger
	x      *executor // runs the jobs received
	levels []level
	fair   bool   // the queue's Fairness: each level's keys in turn
	sched  string // the schedule stream's name, as its bells carry it
	pull   *puller
	tok    *fleetTokens // the fleet's tokens this worker holds; nil without FleetConcurrency or FleetRateLimit

	keyMaker chan keyJob   // new keys whose consumers to create; nil without Fairness
	wake     chan struct{} // a bell rang, a key's consumer is ready, or a retry delay was set
	slotFree chan struct{} // held fell to wakeAt
	wakeAt   atomic.Int64  // the held count that must wake the dispatcher (see slotTarget)

	dueMu   sync.Mutex
	nextDue time.Time // earliest end of a retry delay the executor set

	threshold  int // free slots that justify another request while one is open
	pauseUntil time.Time
	lim        *rate.Limiter
	prepaid    bool      // a rate token is reserved for rateAt
	rateAt     time.Time // when the reserved token is due
	stopping   bool
	refused    repeatLogs[int] // per level, pull requests refused (no leader): logged once, then every 30 s
}

func newDispatcher(q *Queue, o WorkerOptions, log *slog.Logger) *dispatcher {
	d := &dispatcher{
		q: q, o: o, log: log,
		levels:   make([]level, q.cfg.Levels),
		fair:     q.cfg.Fairness,
		sched:    schedStream(q.name),
		wake:     make(chan struct{}, 1),
		slotFree: make(chan struct{}, 1),
	}
	now := time.Now().UnixNano()
	for l := range d.levels {
		lv := &d.levels[l]
		lv.maybe.Store(true)
		lv.waitSince.Store(now)
		lv.fresh = true
		if d.fair {
			lv.fair = newFairLevel(q.name, l)
		}
	}
	if d.fair {
		d.keyMaker = make(chan keyJob, 1024)
	}
	return d
}

// credit is how many jobs the open requests still owe: asked for and
// neither received nor refused yet.
func (d *dispatcher) credit() int {
	n := 0
	for _, ln := range d.pull.lanes {
		if r := ln.req; r != nil {
			n += r.batch - r.got
		}
	}
	return n
}

// open is how many requests are open.
func (d *dispatcher) open() int {
	n := 0
	for _, ln := range d.pull.lanes {
		if ln.req != nil {
			n++
		}
	}
	return n
}

// onBell runs on the connection's goroutine for each stored job's
// headers-only copy; it only marks the level and wakes the dispatcher.
func (d *dispatcher) onBell(m *nats.Msg) {
	subj := m.Subject
	if d.fair {
		// cloudrole.bell.<name>.<level>.<the job's subject>: take the level.
		rest := subj[min(len(subj), len(bellSubject(d.q.name))-1):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			subj = rest[:i]
		}
	}
	i := strings.LastIndexByte(subj, '.')
	l, err := strconv.Atoi(subj[i+1:])
	if err != nil || l < 0 || l >= len(d.levels) {
		return
	}
	lv := &d.levels[l]
	if m.Header.Get(jetstream.StreamHeader) == d.sched {
		// A scheduled job fell due: the server stored it in the schedule
		// stream (whose sequence this is) and is sourcing it onto the level.
		lv.due.Store(true)
	} else if isHint(m) {
		lv.hint.Store(true) // the job is on its way: give the consumer a moment
	} else if seq, err := strconv.ParseUint(bellSeq(m), 10, 64); err == nil {
		if seq <= lv.lastSeq.Load() {
			return // already fetched: a late notice
		}
		storeMax(&lv.bellSeq, seq)
	}
	if d.fair {
		d.fairBell(l, m.Header.Get(jetstream.SubjectHeader), time.Now().UnixNano())
	} else {
		lv.mark(time.Now().UnixNano())
	}
	d.poke()
	if d.o.bellHook != nil {
		d.o.bellHook(l)
	}
}

func storeMax(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// poke wakes the dispatcher, from any goroutine.
func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// noteDue records that a job comes back at t (a retry delay), so an idle
// dispatcher looks again then. Safe from any goroutine.
func (d *dispatcher) noteDue(t time.Time) {
	d.dueMu.Lock()
	if d.nextDue.IsZero() || t.Before(d.nextDue) {
		d.nextDue = t
	}
	d.dueMu.Unlock()
	d.poke() // let an idle dispatcher re-arm its timer
}

// wakeIfFree wakes the dispatcher when a finished handler or a confirmed
// ack brought held down to the count it waits for. Safe from any
// goroutine.
func (d *dispatcher) wakeIfFree() {
	if d.x.held() <= d.wakeAt.Load() {
		select {
		case d.slotFree <- struct{}{}:
		default:
		}
	}
}

func (d *dispatcher) markAll() {
	now := time.Now().UnixNano()
	for l := range d.levels {
		lv := &d.levels[l]
		if lv.fair != nil {
			lv.fair.markAll()
		}
		lv.mark(now)
	}
	if d.fair {
		d.retryKeyConsumers()
	}
}

// topMaybe is the highest level that may hold jobs, or -1.
func (d *dispatcher) topMaybe() int {
	for l := range d.levels {
		if d.levels[l].maybe.Load() {
			return l
		}
	}
	return -1
}

func (d *dispatcher) anyMaybe() bool { return d.topMaybe() >= 0 }

// pick chooses the level to fetch from, how many jobs to fetch, and at a
// fair level the key (sub-queue) whose turn it is, or -1. At a fair level
// the free slots are split among the keys that may hold jobs, one request
// each in turn.
func (d *dispatcher) pick(free int) (int, int, *subQueue) {
	for {
		l, n := d.pickLevel(free)
		if l < 0 || !d.fair {
			return l, n, nil
		}
		lv := &d.levels[l]
		if s, k := lv.fair.turn(); s != nil {
			return l, max(1, n/k), s
		}
		// Marked, but no key there is ready (its consumer is being
		// made): nothing to ask for at this level now.
		lv.clear(lv.gen.Load())
	}
}

// pickLevel chooses the level to fetch from and how many jobs to fetch, or
// -1. Strict: the highest level that may hold jobs. With Aging: a lower
// level whose jobs have waited unserved for Aging or longer goes first
// (the one waiting longest), for one job.
func (d *dispatcher) pickLevel(free int) (int, int) {
	first := d.topMaybe()
	if first < 0 {
		return -1, 0
	}
	if d.o.Aging > 0 {
		now := time.Now().UnixNano()
		best, bestSince := -1, int64(0)
		for l := first + 1; l < len(d.levels); l++ {
			lv := &d.levels[l]
			if !lv.maybe.Load() {
				continue
			}
			s := lv.waitSince.Load()
			if now-s >= int64(d.o.Aging) && (best < 0 || s < bestSince) {
				best, bestSince = l, s
			}
		}
		if best >= 0 {
			return best, 1
		}
	}
	if d.o.Shares != nil {
		// Smooth weighted round robin over the levels that have jobs.
		best, total := -1, 0
		for l := first; l < len(d.levels); l++ {
			lv := &d.levels[l]
			if !lv.maybe.Load() {
				continue
			}
			lv.current += d.o.Shares[l]
			total += d.o.Shares[l]
			if best < 0 || lv.current > d.levels[best].current {
				best = l
			}
		}
		d.levels[best].current -= total
		return best, 1
	}
	return first, free
}

// dispatch asks for and starts jobs until ctx ends (nil, after the open
// requests are answered) or the connection is closed for good (an error
// wrapping ErrClosed).
func (d *dispatcher) dispatch(ctx context.Context) error {
	d.threshold = max(1, min(d.o.Concurrency/4, maxBatch))
	if d.o.RateLimit > 0 {
		d.lim = rate.NewLimiter(rate.Limit(d.o.RateLimit), d.o.RateBurst)
	}
	poll := time.NewTicker(d.o.PollInterval)
	defer poll.Stop()
	alarm := time.NewTimer(time.Hour)
	alarm.Stop()
	defer alarm.Stop()
	var armed time.Time
	reconnected := d.q.c.reconn.signal()
	var tokens <-chan *nats.Msg // nil without fleet tokens: never ready
	if d.tok != nil {
		tokens = d.tok.msgs
	}
	for {
		if ctx.Err() != nil {
			return d.finish()
		}
		if err := d.issue(); err != nil {
			return err
		}
		// Be woken by a finishing handler only once enough slots are
		// free to ask for more; waking per job costs more than the job.
		t := d.slotTarget()
		d.wakeAt.Store(t)
		if d.x.held() <= t {
			continue // freed meanwhile
		}
		if at := d.nextAlarm(); !at.Equal(armed) {
			armed = at
			if at.IsZero() {
				alarm.Stop()
			} else {
				alarm.Reset(time.Until(at))
			}
		}
		select {
		case m := <-d.pull.msgs:
			d.arriveAll(m)
		case m := <-tokens:
			d.tok.arrive(m)
		case <-d.slotFree:
		case <-d.wake:
		case <-poll.C:
			if d.q.c.nc.IsClosed() {
				return d.closedErr()
			}
			d.markAll()
		case <-alarm.C:
			armed = time.Time{}
			if err := d.onAlarm(time.Now()); err != nil {
				return err
			}
		case <-reconnected:
			reconnected = d.q.c.reconn.signal()
			if err := d.resend(); err != nil {
				return err
			}
		case <-ctx.Done():
		}
	}
}

func (d *dispatcher) closedErr() error {
	return fmt.Errorf("queue %q: worker stopped, the connection was closed: %w", d.q.name, ErrClosed)
}

// slotTarget is the held count (see executor.held) at or below which a
// finishing handler or a confirmed ack must wake the dispatcher: the count
// at which issue would send another request. It is -1 when freed slots
// alone would not let issue act (no lane, no level with jobs, a pause, a
// rate wait or too few fleet tokens: other wake-ups cover those).
func (d *dispatcher) slotTarget() int64 {
	if d.stopping || !d.pauseUntil.IsZero() || d.prepaid || d.pull.idle() == nil || !d.anyMaybe() {
		return -1
	}
	credit := d.credit()
	if d.tok != nil && d.tok.avail(credit) < d.need() {
		return -1 // waiting for tokens: their arrival wakes the dispatcher
	}
	return int64(d.o.Concurrency - credit - d.need())
}

// need is how many free slots justify another request: one when nothing
// is open, or when a level above every open request's level may hold
// jobs (an urgent job takes the very next free slot instead of waiting
// for a batch of them); otherwise the threshold, so a busy worker sends
// few large requests.
func (d *dispatcher) need() int {
	if d.open() == 0 {
		return 1
	}
	top := d.topMaybe()
	if top < 0 {
		return d.threshold
	}
	for _, ln := range d.pull.lanes {
		if ln.req != nil && ln.req.level <= top {
			return d.threshold
		}
	}
	return 1
}

// issue sends requests while the bound and the lanes allow.
func (d *dispatcher) issue() error {
	now := time.Now()
	if d.stopping || now.Before(d.pauseUntil) {
		return nil
	}
	for {
		credit := d.credit()
		free := d.o.Concurrency - int(d.x.held()) - credit
		if d.tok != nil {
			free = d.tokenBound(free, credit)
		}
		if free <= 0 || free < d.need() {
			return nil
		}
		ln := d.pull.idle()
		if ln == nil || !d.anyMaybe() {
			return nil
		}
		if d.lim != nil {
			if !d.prepaid {
				r := d.lim.ReserveN(now, 1)
				if wait := r.DelayFrom(now); wait > 0 {
					d.prepaid, d.rateAt = true, now.Add(wait)
					return nil
				}
			} else if now.Before(d.rateAt) {
				return nil
			}
			d.prepaid = false
		}
		l, n, sub := d.pick(free)
		if l < 0 {
			return nil
		}
		if d.lim != nil {
			n = 1
		}
		n = min(n, free, maxBatch)
		lv := &d.levels[l]
		// Announced but not yet fetched: the consumer may not see the job
		// yet, so give it a moment (the request returns as soon as it does).
		var wait time.Duration
		if lv.hint.Swap(false) || lv.unseen() {
			wait = bellGrace
		}
		if lv.due.Swap(false) {
			wait = dueGrace
		}
		gen := lv.gen.Load()
		consumer := consumerName(d.q.name, l)
		var subGen uint64
		if sub != nil {
			consumer, subGen = sub.consumer, sub.gen.Load()
		}
		if err := d.pull.send(ln, levelStream(d.q.name, l), consumer, n, wait); err != nil {
			if d.q.c.nc.IsClosed() {
				return d.closedErr()
			}
			d.log.Warn("queue: pull request failed", "level", l, "err", err)
			d.pauseUntil = now.Add(d.o.PollInterval)
			return nil
		}
		lv.fresh = false
		ln.req = &pullReq{level: l, batch: n, gen: gen, deadline: now.Add(wait + pullTimeout), sub: sub, subGen: subGen}
	}
}

// arriveAll handles m and whatever else has arrived meanwhile, so a batch
// costs one pass through the dispatcher's select.
func (d *dispatcher) arriveAll(m *nats.Msg) {
	d.arrive(d.pull.arrival(m))
	for range len(d.pull.msgs) {
		d.arrive(d.pull.arrival(<-d.pull.msgs))
	}
}

// arrive handles one job or status from a lane.
func (d *dispatcher) arrive(a arrival) {
	m, r := a.m, a.lane.req
	if m.Reply == "" { // a status: it ends its request
		if r == nil {
			return // of a request already given up
		}
		lv := &d.levels[r.level]
		code := m.Header.Get("Status")
		switch code {
		case "100":
			return
		case "404", "408":
			// 404: nothing left; 408: the wait expired, or the jobs left
			// are all promised to requests already open.
			d.end(a.lane)
			if r.sub != nil {
				d.clearSub(r.level, r.sub, r.subGen, r.gen)
			} else {
				lv.clear(r.gen)
			}
			d.refused.end(r.level, d.log, "queue: pull requests answered again", "level")
		default:
			d.end(a.lane)
			if r.sub != nil && r.sub.key != "" {
				// Most likely its consumer is gone (removed as idle):
				// make it again.
				r.sub.ready.Store(false)
				d.ensureKeyConsumer(r.level, r.sub)
			}
			d.refused.occur(r.level, d.log, time.Now(), "queue: pull request refused", "level", r.level, "status", code, "description", m.Header.Get("Description"))
			lv.mark(time.Now().UnixNano())
			d.pauseUntil = time.Now().Add(d.o.PollInterval)
		}
		return
	}
	if r == nil {
		// A late job for a request given up. Run it if a slot is free
		// and not promised, else hand it back at once.
		l, ok := levelOf(withoutKey(m.Subject), len(d.levels))
		credit := d.credit()
		if !ok || d.stopping || int(d.x.held())+credit >= d.o.Concurrency ||
			(d.tok != nil && d.tok.avail(credit) <= 0) {
			_ = m.Nak()
			return
		}
		d.begin(m, l)
		return
	}
	r.got++
	d.refused.end(r.level, d.log, "queue: pull requests answered again", "level")
	lv := &d.levels[r.level]
	if r.got == 1 {
		lv.waitSince.Store(time.Now().UnixNano())
	}
	d.begin(m, r.level)
	if r.got >= r.batch {
		// Filled: there may be more.
		a.lane.req = nil
		if r.sub != nil {
			d.markSub(r.level, r.sub, time.Now().UnixNano())
		}
		lv.mark(time.Now().UnixNano())
	}
}

// begin hands the job m of level l to the executor, with a fleet token.
func (d *dispatcher) begin(m *nats.Msg, l int) {
	dl, ok := parseAck(m.Reply)
	if ok {
		storeMax(&d.levels[l].lastSeq, dl.seq)
	}
	var tok *nats.Msg
	if d.tok != nil {
		// Asked for with tokens in hand (see tokenBound).
		var ok bool
		if tok, ok = d.tok.take(); !ok {
			_ = m.Nak()
			return
		}
	}
	d.x.start(job{m, l, dl, tok})
}

// end closes ln's request; the jobs it did not bring leave the credit
// with it.
func (d *dispatcher) end(ln *lane) {
	ln.req = nil
	if d.tok != nil && d.credit() == 0 && !d.anyMaybe() {
		d.tok.releaseSpare() // nothing to run: let other workers have them
	}
}

// tokenBound caps free, the jobs the dispatcher may ask for, by the fleet
// tokens it holds and has not promised to a request (credit), and asks
// for more tokens when it holds fewer than free while some level may hold
// jobs.
func (d *dispatcher) tokenBound(free, credit int) int {
	for _, t := range d.tok.pools {
		avail := len(t.spare) - credit
		if want := free - avail; want > 0 && !t.open && !d.stopping && d.anyMaybe() {
			if err := t.ask(min(want, maxBatch)); err != nil && !d.q.c.nc.IsClosed() {
				d.log.Warn("queue: token request failed", "err", err)
			}
		}
	}
	return min(free, d.tok.avail(credit))
}

// nextAlarm is the earliest time the dispatcher must look again without
// being woken: a retry delay ending, a pause or rate wait ending, or an
// open request's deadline.
func (d *dispatcher) nextAlarm() time.Time {
	var at time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	d.dueMu.Lock()
	earlier(d.nextDue)
	d.dueMu.Unlock()
	earlier(d.pauseUntil)
	if d.prepaid {
		earlier(d.rateAt)
	}
	if d.tok != nil {
		for _, t := range d.tok.pools {
			if t.open {
				earlier(t.deadline)
			}
		}
	}
	for _, ln := range d.pull.lanes {
		if ln.req != nil {
			earlier(ln.req.deadline)
		}
	}
	return at
}

func (d *dispatcher) onAlarm(now time.Time) error {
	d.dueMu.Lock()
	due := d.nextDue
	if !due.IsZero() && !now.Before(due) {
		d.nextDue = time.Time{}
	}
	d.dueMu.Unlock()
	if !due.IsZero() && !now.Before(due) {
		d.markAll()
	}
	if !d.pauseUntil.IsZero() && !now.Before(d.pauseUntil) {
		d.pauseUntil = time.Time{}
	}
	if d.tok != nil {
		for _, t := range d.tok.pools {
			if t.open && !now.Before(t.deadline) {
				t.open, t.asked = false, 0 // lost (a reconnect): ask again
			}
		}
	}
	return d.expire(now)
}

// resend gives up every open request after a reconnect (the server lost
// them with the connection) so that issue sends new ones at once.
func (d *dispatcher) resend() error {
	if n := d.open(); n > 0 {
		d.log.Info("queue: connection back; re-sending the pull requests it lost", "requests", n)
	}
	if d.tok != nil {
		for _, t := range d.tok.pools {
			t.open, t.asked = false, 0
		}
	}
	return d.giveUp(func(*pullReq) bool { return true }, false)
}

// expire gives up requests past their deadline.
func (d *dispatcher) expire(now time.Time) error {
	return d.giveUp(func(r *pullReq) bool { return !now.Before(r.deadline) }, true)
}

// giveUp ends the open requests for which lost holds and gives their lanes
// new inboxes (a late answer to an old one counts as a stray).
func (d *dispatcher) giveUp(lost func(*pullReq) bool, warn bool) error {
	now := time.Now()
	for _, ln := range append([]*lane(nil), d.pull.lanes...) {
		r := ln.req
		if r == nil || !lost(r) {
			continue
		}
		d.end(ln)
		if r.sub != nil {
			d.markSub(r.level, r.sub, now.UnixNano())
		}
		d.levels[r.level].mark(now.UnixNano())
		if err := d.pull.retire(ln); err != nil {
			if d.q.c.nc.IsClosed() {
				return d.closedErr()
			}
			d.log.Warn("queue: cannot renew a pull inbox", "err", err)
			// The lane stays, without a request; its old inbox is
			// reused, so a late answer counts as a stray.
			continue
		}
		if warn && !d.q.c.nc.IsClosed() {
			d.log.Warn("queue: pull request unanswered; given up", "level", r.level, "after", pullTimeout)
		}
	}
	if d.q.c.nc.IsClosed() {
		return d.closedErr()
	}
	return nil
}

// finish stops asking and waits (bounded) for the open requests' answers:
// the jobs they bring are started, to finish or be handed back by the
// drain, so none waits out a lease.
func (d *dispatcher) finish() error {
	d.stopping = true
	if d.tok != nil {
		defer d.tok.releaseSpare()
	}
	if d.q.c.nc.IsClosed() {
		return nil
	}
	limit := time.NewTimer(2 * time.Second)
	defer limit.Stop()
	for d.open() > 0 {
		select {
		case m := <-d.pull.msgs:
			d.arriveAll(m)
		case <-limit.C:
			return nil
		}
	}
	for d.tok != nil && len(d.tok.msgs) > 0 {
		d.tok.arrive(<-d.tok.msgs) // released by the deferred releaseSpare
	}
	return nil
}

// levelOf reads the level from a job's subject, which ends in .<level>.
func levelOf(subject string, levels int) (int, bool) {
	i := strings.LastIndexByte(subject, '.')
	l, err := strconv.Atoi(subject[i+1:])
	return l, err == nil && l >= 0 && l < levels
}
