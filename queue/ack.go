package queue

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// acker sends a worker's acks from one goroutine, in bursts, and counts
// the acks the server has not confirmed yet.
//
// Bursts: sending acks from the handler goroutines as each finishes makes
// the connection write a few bytes at a time, and those small writes, on
// both ends of the socket, cost more than the jobs themselves when
// handlers are short. Collected here, the acks of every handler that
// finished meanwhile go out in one write.
//
// Confirmation: an ack is a fire-and-forget publish, and the server works
// through acks at its own pace — with fsync on every write, at the disk's
// fsync rate, far slower than no-op handlers finish. A worker that counted
// a job as done when its handler returned would run ever further ahead of
// the server: tens of thousands of jobs finished but not yet acknowledged,
// all of them run again after a crash, and their leases expiring while
// the acks wait. So the last ack of each level in a burst asks for the
// server's reply; a consumer handles one connection's acks in order, so
// that reply confirms the whole group. The worker counts finished jobs
// until their group is confirmed and starts no new job while more than
// its window of them are unconfirmed (see executor.held).
type acker struct {
	nc      *nats.Conn
	log     *slog.Logger
	inbox   string // confirmations arrive on inbox.<token>
	sub     *nats.Subscription
	timeout time.Duration // an unconfirmed group is given up after this
	freed   func()        // called after confirmations lowered the count

	// unconfirmed counts acks queued or sent and not yet confirmed (or
	// given up). Handler goroutines raise it, the acker lowers it, the
	// dispatcher reads it.
	unconfirmed atomic.Int64

	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending []ackItem
	closed  bool
	groups  map[uint64]ackGroup // sent, awaiting confirmation, by token
	token   uint64
	settled chan struct{} // closed when groups empties after close began

	// The group commit (nil: the server syncs every ack itself). Counts
	// of acks the server has processed and a commit has not covered yet.
	commit       *committer
	commitWake   chan struct{}
	commitDone   chan struct{}
	toCommit     int
	inCommit     int
	commitClosed bool // commitWake is closed
}

type ackItem struct {
	reply string
	id    string
	level int
}

// ackGroup is the acks of one level in one burst, confirmed by one reply.
type ackGroup struct {
	n    int
	sent time.Time
}

var ackPayload = []byte("+ACK")

// ackSettleWait bounds how long a stopping worker waits for the server to
// confirm its last acks.
const ackSettleWait = 5 * time.Second

// newAcker starts the acker of a worker with levels levels. Unconfirmed
// groups are given up after timeout (the jobs' lease: by then an ack that
// was lost has been overtaken by a redelivery anyway). freed is called,
// from the acker's goroutines, whenever confirmations lower the count.
func newAcker(nc *nats.Conn, commit *committer, log *slog.Logger, levels int, timeout time.Duration, freed func()) (*acker, error) {
	a := &acker{
		nc: nc, commit: commit, log: log, timeout: timeout, freed: freed,
		commitWake: make(chan struct{}, 1), commitDone: make(chan struct{}),
		inbox:  nc.NewInbox(),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		groups: make(map[uint64]ackGroup),
	}
	sub, err := nc.Subscribe(a.inbox+".*", a.onConfirm)
	if err != nil {
		return nil, err
	}
	a.sub = sub
	go a.loop(levels)
	if commit != nil {
		go a.commits()
	} else {
		close(a.commitDone)
	}
	return a, nil
}

// commits runs the group commit for acks the server has processed: they
// count as confirmed, and their slots come free, only once on disk. One
// commit covers every group confirmed meanwhile.
func (a *acker) commits() {
	defer close(a.commitDone)
	for range a.commitWake {
		a.mu.Lock()
		n := a.toCommit
		a.toCommit, a.inCommit = 0, n
		a.mu.Unlock()
		if n == 0 {
			continue
		}
		if err := a.commit.wait(context.Background()); err != nil {
			a.log.Warn("queue: syncing acks to disk failed; those jobs may be delivered again", "jobs", n, "err", err)
		}
		a.mu.Lock()
		a.inCommit = 0
		a.settledLocked()
		a.mu.Unlock()
		a.unconfirmed.Add(-int64(n))
		a.freed()
	}
}

// ack queues the ack of a job of level delivered with reply subject reply.
func (a *acker) ack(reply, id string, level int) {
	a.unconfirmed.Add(1)
	a.mu.Lock()
	a.pending = append(a.pending, ackItem{reply, id, level})
	first := len(a.pending) == 1
	a.mu.Unlock()
	if first {
		a.poke()
	}
}

func (a *acker) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *acker) loop(levels int) {
	defer close(a.done)
	var batch []ackItem
	last := make([]int, levels)  // index of each level's last ack in the burst
	count := make([]int, levels) // acks of each level in the burst
	check := time.NewTicker(time.Second)
	defer check.Stop()
	for {
		select {
		case <-a.wake:
		case now := <-check.C:
			a.expire(now)
			continue
		}
		// Let handlers that are about to finish queue their acks first,
		// so one write carries them all; this alone took consume
		// throughput from about 0.85x to parity with raw Consume.
		runtime.Gosched()
		a.mu.Lock()
		batch, a.pending = a.pending, batch[:0]
		closed := a.closed
		a.mu.Unlock()
		for i, it := range batch {
			last[it.level] = i
			count[it.level]++
		}
		for i, it := range batch {
			if last[it.level] != i {
				if err := a.nc.Publish(it.reply, ackPayload); err != nil {
					a.log.Warn("queue: ack failed; the job will be delivered again", "id", it.id, "err", err)
				}
				continue
			}
			a.sendLast(it, count[it.level])
			count[it.level] = 0
		}
		clear(batch)
		if closed {
			a.mu.Lock()
			if len(a.pending) == 0 {
				a.mu.Unlock()
				return
			}
			a.mu.Unlock()
		}
	}
}

// sendLast sends the last ack of a group of n with a reply subject, so the
// server's reply confirms all n.
func (a *acker) sendLast(it ackItem, n int) {
	a.mu.Lock()
	a.token++
	tok := a.token
	a.groups[tok] = ackGroup{n: n, sent: time.Now()}
	a.mu.Unlock()
	// Registered first: the reply may arrive before PublishRequest returns.
	if err := a.nc.PublishRequest(it.reply, a.inbox+"."+strconv.FormatUint(tok, 10), ackPayload); err != nil {
		a.log.Warn("queue: ack failed; the job will be delivered again", "id", it.id, "err", err)
		a.settle(tok)
	}
}

// onConfirm handles the server's reply to a group's last ack. A status
// reply (no responders: the consumer is gone) settles the group too: no
// better answer will come.
func (a *acker) onConfirm(m *nats.Msg) {
	i := len(a.inbox) + 1
	if len(m.Subject) <= i {
		return
	}
	tok, err := strconv.ParseUint(m.Subject[i:], 10, 64)
	if err != nil {
		return
	}
	a.settle(tok)
}

// settle removes group tok, if still there, and releases its count.
func (a *acker) settle(tok uint64) {
	a.mu.Lock()
	g, ok := a.groups[tok]
	delete(a.groups, tok)
	if ok && a.commit != nil {
		// Processed by the server; confirmed once the commit has it.
		a.toCommit += g.n
		if !a.commitClosed {
			select {
			case a.commitWake <- struct{}{}:
			default:
			}
		}
		a.mu.Unlock()
		return
	}
	a.settledLocked()
	a.mu.Unlock()
	if ok {
		a.unconfirmed.Add(-int64(g.n))
		a.freed()
	}
}

func (a *acker) settledLocked() {
	if a.settled != nil && len(a.groups) == 0 && len(a.pending) == 0 && a.toCommit == 0 && a.inCommit == 0 {
		select {
		case <-a.settled:
		default:
			close(a.settled)
		}
	}
}

// expire gives up groups unconfirmed for longer than the timeout, so a
// lost reply (a reconnect, a consumer gone) cannot hold slots for ever.
func (a *acker) expire(now time.Time) {
	a.mu.Lock()
	n, jobs := 0, 0
	for tok, g := range a.groups {
		if now.Sub(g.sent) >= a.timeout {
			delete(a.groups, tok)
			n++
			jobs += g.n
		}
	}
	a.settledLocked()
	a.mu.Unlock()
	if n > 0 {
		a.unconfirmed.Add(-int64(jobs))
		a.freed()
		a.log.Warn("queue: acks not confirmed by the server in time; those jobs may be delivered again", "groups", n, "jobs", jobs, "after", a.timeout)
	}
}

// close sends the acks still queued, waits up to wait for the server to
// confirm every ack sent, and stops.
func (a *acker) close(wait time.Duration) {
	a.mu.Lock()
	a.closed = true
	a.settled = make(chan struct{})
	a.mu.Unlock()
	a.poke()
	<-a.done
	a.mu.Lock()
	a.settledLocked()
	a.mu.Unlock()
	t := time.NewTimer(wait)
	select {
	case <-a.settled:
	case <-t.C:
		a.log.Warn("queue: stopping with acks the server has not confirmed; those jobs may be delivered again", "acks", a.unconfirmed.Load(), "waited", wait)
	}
	t.Stop()
	_ = a.sub.Unsubscribe()
	a.mu.Lock()
	a.commitClosed = true
	close(a.commitWake)
	a.mu.Unlock()
	<-a.commitDone
}
