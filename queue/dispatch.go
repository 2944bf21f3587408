package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"
)

// The dispatcher is one goroutine per worker that decides which level to
// ask for jobs, and how many. Its rule: the slots held (jobs running,
// plus finished jobs beyond the ack window whose ack the server has not
// confirmed) plus the jobs asked for and not yet received never exceed
// Concurrency, so a worker never holds a job it has no slot for and never
// runs far ahead of the server's acks. Within that bound it keeps up to
// pullLanes requests open, so the round trip of one is hidden behind the
// answers to the others; a further request waits until a quarter of the
// slots are free (or nothing is open), so a busy worker sends few large
// requests rather than one per finished job.

// maxBatch caps one pull request.
const maxBatch = 256

// bellGrace is how long a pull for an announced job waits for the consumer
// to see it.
const bellGrace = 5 * time.Millisecond

// pullTimeout is how long past its own wait a request may stay unanswered
// before it is treated as lost (the server went away under it).
const pullTimeout = 5 * time.Second

// dispatchState is owned by the dispatcher goroutine.
type dispatchState struct {
	credit     int // jobs asked for and not yet received or refused
	open       int // requests open
	threshold  int // free slots that justify another request while one is open
	pauseUntil time.Time
	lim        *rate.Limiter
	prepaid    bool      // a rate token is reserved for rateAt
	rateAt     time.Time // when the reserved token is due
	stopping   bool
	refused    repeatLogs[int] // per level, pull requests refused (no leader): logged once, then every 30 s
}

// mark notes that level l may hold jobs.
func (w *worker) mark(l int, now int64) {
	w.gen[l].Add(1)
	if w.maybe[l].CompareAndSwap(false, true) {
		w.waitSince[l].Store(now)
	}
}

func (w *worker) markAll() {
	now := time.Now().UnixNano()
	for l := range w.levels {
		if w.fair != nil {
			w.fair[l].markAll()
		}
		w.mark(l, now)
	}
	if w.fair != nil {
		w.retryKeyConsumers()
	}
}

// clear notes that level l had no job left when a request sent at mark
// generation gen was answered, unless it was marked since.
func (w *worker) clear(l int, gen uint64) {
	if w.gen[l].Load() != gen {
		return
	}
	w.maybe[l].Store(false)
	if w.gen[l].Load() != gen { // marked meanwhile: keep it
		w.maybe[l].Store(true)
	}
}

// topMaybe is the highest level that may hold jobs, or -1.
func (w *worker) topMaybe() int {
	for l := range w.levels {
		if w.maybe[l].Load() {
			return l
		}
	}
	return -1
}

func (w *worker) anyMaybe() bool { return w.topMaybe() >= 0 }

// pick chooses the level to fetch from, how many jobs to fetch, and at a
// fair level the key (sub-queue) whose turn it is, or -1. At a fair level
// the free slots are split among the keys that may hold jobs, one request
// each in turn.
func (w *worker) pick(free int) (int, int, *subQueue) {
	for {
		l, n := w.pickLevel(free)
		if l < 0 || w.fair == nil {
			return l, n, nil
		}
		if s, k := w.fair[l].turn(); s != nil {
			return l, max(1, n/k), s
		}
		// Marked, but no key there is ready (its consumer is being
		// made): nothing to ask for at this level now.
		w.clear(l, w.gen[l].Load())
	}
}

// pickLevel chooses the level to fetch from and how many jobs to fetch, or
// -1. Strict: the highest level that may hold jobs. With Aging: a lower
// level whose jobs have waited unserved for Aging or longer goes first
// (the one waiting longest), for one job.
func (w *worker) pickLevel(free int) (int, int) {
	first := w.topMaybe()
	if first < 0 {
		return -1, 0
	}
	if w.o.Aging > 0 {
		now := time.Now().UnixNano()
		best, bestSince := -1, int64(0)
		for l := first + 1; l < w.levels; l++ {
			if !w.maybe[l].Load() {
				continue
			}
			s := w.waitSince[l].Load()
			if now-s >= int64(w.o.Aging) && (best < 0 || s < bestSince) {
				best, bestSince = l, s
			}
		}
		if best >= 0 {
			return best, 1
		}
	}
	if w.o.Shares != nil {
		// Smooth weighted round robin over the levels that have jobs.
		best, total := -1, 0
		for l := first; l < w.levels; l++ {
			if !w.maybe[l].Load() {
				continue
			}
			w.current[l] += w.o.Shares[l]
			total += w.o.Shares[l]
			if best < 0 || w.current[l] > w.current[best] {
				best = l
			}
		}
		w.current[best] -= total
		return best, 1
	}
	return first, free
}

// dispatch asks for and starts jobs until ctx ends (nil, after the open
// requests are answered) or the connection is closed for good (an error
// wrapping ErrClosed).
func (w *worker) dispatch(ctx context.Context) error {
	w.d.threshold = max(1, min(w.o.Concurrency/4, maxBatch))
	if w.o.RateLimit > 0 {
		w.d.lim = rate.NewLimiter(rate.Limit(w.o.RateLimit), w.o.RateBurst)
	}
	poll := time.NewTicker(w.o.PollInterval)
	defer poll.Stop()
	alarm := time.NewTimer(time.Hour)
	alarm.Stop()
	defer alarm.Stop()
	var armed time.Time
	reconnected := w.q.c.reconn.signal()
	var tokens <-chan *nats.Msg // nil without fleet tokens: never ready
	if w.tok != nil {
		tokens = w.tok.msgs
	}
	for {
		if ctx.Err() != nil {
			return w.finish()
		}
		if err := w.issue(); err != nil {
			return err
		}
		// Be woken by a finishing handler only once enough slots are
		// free to ask for more; waking per job costs more than the job.
		t := w.slotTarget()
		w.wakeAt.Store(t)
		if w.held() <= t {
			continue // freed meanwhile
		}
		if at := w.nextAlarm(); !at.Equal(armed) {
			armed = at
			if at.IsZero() {
				alarm.Stop()
			} else {
				alarm.Reset(time.Until(at))
			}
		}
		select {
		case m := <-w.pull.msgs:
			w.arriveAll(m)
		case m := <-tokens:
			w.tok.arrive(m)
		case <-w.slotFree:
		case <-w.wake:
		case <-poll.C:
			if w.q.c.nc.IsClosed() {
				return w.closedErr()
			}
			w.markAll()
		case <-alarm.C:
			armed = time.Time{}
			if err := w.onAlarm(time.Now()); err != nil {
				return err
			}
		case <-reconnected:
			reconnected = w.q.c.reconn.signal()
			if err := w.resend(); err != nil {
				return err
			}
		case <-ctx.Done():
		}
	}
}

func (w *worker) closedErr() error {
	return fmt.Errorf("queue %q: worker stopped, the connection was closed: %w", w.q.name, ErrClosed)
}

// slotTarget is the held count (see worker.held) at or below which a
// finishing handler or a confirmed ack must wake the dispatcher: the count at which issue would send another
// request. It is -1 when freed slots alone would not let issue act (no
// lane, no level with jobs, a pause, a rate wait or too few fleet
// tokens: other wake-ups cover those).
func (w *worker) slotTarget() int64 {
	d := &w.d
	if d.stopping || !d.pauseUntil.IsZero() || d.prepaid || w.pull.idle() == nil || !w.anyMaybe() {
		return -1
	}
	if w.tok != nil && w.tok.avail(d.credit) < w.need() {
		return -1 // waiting for tokens: their arrival wakes the dispatcher
	}
	return int64(w.o.Concurrency - d.credit - w.need())
}

// need is how many free slots justify another request: one when nothing
// is open, or when a level above every open request's level may hold
// jobs (an urgent job takes the very next free slot instead of waiting
// for a batch of them); otherwise the threshold, so a busy worker sends
// few large requests.
func (w *worker) need() int {
	if w.d.open == 0 {
		return 1
	}
	top := w.topMaybe()
	if top < 0 {
		return w.d.threshold
	}
	for _, ln := range w.pull.lanes {
		if ln.req != nil && ln.req.level <= top {
			return w.d.threshold
		}
	}
	return 1
}

// issue sends requests while the bound and the lanes allow.
func (w *worker) issue() error {
	d := &w.d
	now := time.Now()
	if d.stopping || now.Before(d.pauseUntil) {
		return nil
	}
	for {
		free := w.o.Concurrency - int(w.held()) - d.credit
		if w.tok != nil {
			free = w.tokenBound(free)
		}
		if free <= 0 || free < w.need() {
			return nil
		}
		ln := w.pull.idle()
		if ln == nil || !w.anyMaybe() {
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
		l, n, sub := w.pick(free)
		if l < 0 {
			return nil
		}
		if d.lim != nil {
			n = 1
		}
		n = min(n, free, maxBatch)
		// Announced but not yet fetched: the consumer may not see the job
		// yet, so give it a moment (the request returns as soon as it does).
		var wait time.Duration
		if w.fresh[l] || w.bellSeq[l].Load() > w.lastSeq[l].Load() {
			wait = bellGrace
		}
		gen := w.gen[l].Load()
		consumer := consumerName(w.q.name, l)
		var subGen uint64
		if sub != nil {
			consumer, subGen = sub.consumer, sub.gen.Load()
		}
		if err := w.pull.send(ln, levelStream(w.q.name, l), consumer, n, wait); err != nil {
			if w.q.c.nc.IsClosed() {
				return w.closedErr()
			}
			w.log.Warn("queue: pull request failed", "level", l, "err", err)
			d.pauseUntil = now.Add(w.o.PollInterval)
			return nil
		}
		w.fresh[l] = false
		ln.req = &pullReq{level: l, batch: n, gen: gen, deadline: now.Add(wait + pullTimeout), sub: sub, subGen: subGen}
		d.credit += n
		d.open++
	}
}

// arriveAll handles m and whatever else has arrived meanwhile, so a batch
// costs one pass through the dispatcher's select.
func (w *worker) arriveAll(m *nats.Msg) {
	w.arrive(w.pull.arrival(m))
	for range len(w.pull.msgs) {
		w.arrive(w.pull.arrival(<-w.pull.msgs))
	}
}

// arrive handles one job or status from a lane.
func (w *worker) arrive(a arrival) {
	m, r := a.m, a.lane.req
	if m.Reply == "" { // a status: it ends its request
		if r == nil {
			return // of a request already given up
		}
		code := m.Header.Get("Status")
		switch code {
		case "100":
			return
		case "404", "408":
			// 404: nothing left; 408: the wait expired, or the jobs left
			// are all promised to requests already open.
			w.end(a.lane)
			if r.sub != nil {
				w.clearSub(r.level, r.sub, r.subGen, r.gen)
			} else {
				w.clear(r.level, r.gen)
			}
			w.d.refused.end(r.level, w.log, "queue: pull requests answered again", "level")
		default:
			w.end(a.lane)
			if r.sub != nil && r.sub.key != "" {
				// Most likely its consumer is gone (removed as idle):
				// make it again.
				r.sub.ready.Store(false)
				w.ensureKeyConsumer(r.level, r.sub)
			}
			w.d.refused.occur(r.level, w.log, time.Now(), "queue: pull request refused", "level", r.level, "status", code, "description", m.Header.Get("Description"))
			w.mark(r.level, time.Now().UnixNano())
			w.d.pauseUntil = time.Now().Add(w.o.PollInterval)
		}
		return
	}
	if r == nil {
		// A late job for a request given up. Run it if a slot is free
		// and not promised, else hand it back at once.
		l, ok := levelOf(withoutKey(m.Subject), w.levels)
		if !ok || w.d.stopping || int(w.held())+w.d.credit >= w.o.Concurrency ||
			(w.tok != nil && w.tok.avail(w.d.credit) <= 0) {
			_ = m.Nak()
			return
		}
		w.begin(m, l)
		return
	}
	r.got++
	w.d.credit--
	w.d.refused.end(r.level, w.log, "queue: pull requests answered again", "level")
	if r.got == 1 {
		w.waitSince[r.level].Store(time.Now().UnixNano())
	}
	w.begin(m, r.level)
	if r.got >= r.batch {
		// Filled: there may be more.
		a.lane.req = nil
		w.d.open--
		if r.sub != nil {
			w.markSub(r.level, r.sub, time.Now().UnixNano())
		}
		w.mark(r.level, time.Now().UnixNano())
	}
}

func (w *worker) begin(m *nats.Msg, l int) {
	d, ok := parseAck(m.Reply)
	if ok {
		storeMax(&w.lastSeq[l], d.seq)
	}
	var tok *nats.Msg
	if w.tok != nil {
		// Asked for with tokens in hand (see tokenBound).
		var ok bool
		if tok, ok = w.tok.take(); !ok {
			_ = m.Nak()
			return
		}
	}
	w.start(m, l, d, tok)
}

// end closes ln's request, returning the jobs it did not bring.
func (w *worker) end(ln *lane) {
	r := ln.req
	ln.req = nil
	w.d.credit -= r.batch - r.got
	w.d.open--
	if w.tok != nil && w.d.credit == 0 && !w.anyMaybe() {
		w.tok.releaseSpare() // nothing to run: let other workers have them
	}
}

// tokenBound caps free, the jobs the dispatcher may ask for, by the fleet
// tokens it holds and has not promised to a request, and asks for more
// tokens when it holds fewer than free while some level may hold jobs.
func (w *worker) tokenBound(free int) int {
	for _, t := range w.tok.pools {
		avail := len(t.spare) - w.d.credit
		if want := free - avail; want > 0 && !t.open && !w.d.stopping && w.anyMaybe() {
			if err := t.ask(min(want, maxBatch)); err != nil && !w.q.c.nc.IsClosed() {
				w.log.Warn("queue: token request failed", "err", err)
			}
		}
	}
	return min(free, w.tok.avail(w.d.credit))
}

// nextAlarm is the earliest time the dispatcher must look again without
// being woken: a retry delay ending, a pause or rate wait ending, or an
// open request's deadline.
func (w *worker) nextAlarm() time.Time {
	var at time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	w.mu.Lock()
	earlier(w.nextDue)
	w.mu.Unlock()
	earlier(w.d.pauseUntil)
	if w.d.prepaid {
		earlier(w.d.rateAt)
	}
	if w.tok != nil {
		for _, t := range w.tok.pools {
			if t.open {
				earlier(t.deadline)
			}
		}
	}
	for _, ln := range w.pull.lanes {
		if ln.req != nil {
			earlier(ln.req.deadline)
		}
	}
	return at
}

func (w *worker) onAlarm(now time.Time) error {
	w.mu.Lock()
	due := w.nextDue
	if !due.IsZero() && !now.Before(due) {
		w.nextDue = time.Time{}
	}
	w.mu.Unlock()
	if !due.IsZero() && !now.Before(due) {
		w.markAll()
	}
	if !w.d.pauseUntil.IsZero() && !now.Before(w.d.pauseUntil) {
		w.d.pauseUntil = time.Time{}
	}
	if w.tok != nil {
		for _, t := range w.tok.pools {
			if t.open && !now.Before(t.deadline) {
				t.open, t.asked = false, 0 // lost (a reconnect): ask again
			}
		}
	}
	return w.expire(now)
}

// resend gives up every open request after a reconnect (the server lost
// them with the connection) so that issue sends new ones at once.
func (w *worker) resend() error {
	n := 0
	for _, ln := range w.pull.lanes {
		if ln.req != nil {
			n++
		}
	}
	if n > 0 {
		w.log.Info("queue: connection back; re-sending the pull requests it lost", "requests", n)
	}
	if w.tok != nil {
		for _, t := range w.tok.pools {
			t.open, t.asked = false, 0
		}
	}
	return w.giveUp(func(*pullReq) bool { return true }, false)
}

// expire gives up requests past their deadline.
func (w *worker) expire(now time.Time) error {
	return w.giveUp(func(r *pullReq) bool { return !now.Before(r.deadline) }, true)
}

// giveUp ends the open requests for which lost holds and gives their lanes
// new inboxes (a late answer to an old one counts as a stray).
func (w *worker) giveUp(lost func(*pullReq) bool, warn bool) error {
	now := time.Now()
	for _, ln := range append([]*lane(nil), w.pull.lanes...) {
		r := ln.req
		if r == nil || !lost(r) {
			continue
		}
		w.end(ln)
		if r.sub != nil {
			w.markSub(r.level, r.sub, now.UnixNano())
		}
		w.mark(r.level, now.UnixNano())
		if err := w.pull.retire(ln); err != nil {
			if w.q.c.nc.IsClosed() {
				return w.closedErr()
			}
			w.log.Warn("queue: cannot renew a pull inbox", "err", err)
			// The lane stays, without a request; its old inbox is
			// reused, so a late answer counts as a stray.
			continue
		}
		if warn && !w.q.c.nc.IsClosed() {
			w.log.Warn("queue: pull request unanswered; given up", "level", r.level, "after", pullTimeout)
		}
	}
	if w.q.c.nc.IsClosed() {
		return w.closedErr()
	}
	return nil
}

// finish stops asking and waits (bounded) for the open requests' answers:
// the jobs they bring are started, to finish or be handed back by the
// drain, so none waits out a lease.
func (w *worker) finish() error {
	w.d.stopping = true
	if w.tok != nil {
		defer w.tok.releaseSpare()
	}
	if w.q.c.nc.IsClosed() {
		return nil
	}
	limit := time.NewTimer(2 * time.Second)
	defer limit.Stop()
	for w.d.open > 0 {
		select {
		case m := <-w.pull.msgs:
			w.arriveAll(m)
		case <-limit.C:
			return nil
		}
	}
	for w.tok != nil && len(w.tok.msgs) > 0 {
		w.tok.arrive(<-w.tok.msgs) // released by the deferred releaseSpare
	}
	return nil
}

// levelOf reads the level from a job's subject, which ends in .<level>.
func levelOf(subject string, levels int) (int, bool) {
	i := strings.LastIndexByte(subject, '.')
	l, err := strconv.Atoi(subject[i+1:])
	return l, err == nil && l >= 0 && l < levels
}
