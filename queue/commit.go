package queue

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// committer is a group commit for the embedded server. Under sync
// "always" nats-server fsyncs every stored job and every ack on its own,
// so a job costs two fsyncs and throughput is the disk's fsync rate.
// Instead, where the OS can sync a whole file system at once (Linux's
// syncfs), the server runs without per-write fsync and whoever needs
// durability waits for the next commit: one sync, started after its write
// was acknowledged by the server, shared by every write waiting then. An
// Enqueue returns, and a worker counts an ack as confirmed, only after such
// a commit: nothing is confirmed before it is on disk, and a burst of
// writes costs one sync instead of one each.
//
// The server's own writes (written to the files when stored, not held in
// its memory: single-replica streams flush in place) are what the sync
// covers; a background commit every committerIdle also bounds what other
// processes publishing to the embedded server could lose to an OS crash.
type committer struct {
	sync func() error // syncs the store's file system
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	started uint64        // commits started
	ended   uint64        // commits ended (the last of them with err)
	running chan struct{} // closed when the running commit ends; nil if none
	err     error
}

// committerIdle is the background commit's period.
const committerIdle = time.Second

// commitBackstop is the embedded server's own sync interval under a group
// commit: a second line of defence, never what durability rests on.
const commitBackstop = 2 * time.Minute

func newCommitter(sync func() error) *committer {
	c := &committer{sync: sync, stop: make(chan struct{}), done: make(chan struct{})}
	go c.background()
	return c
}

// wait returns once a commit that started after the call has ended, with
// its error; or ctx's error. Safe for concurrent use; nil is a no-op.
func (c *committer) wait(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	need := c.started + 1 // the running one, if any, may have missed our write
	for c.ended < need {
		if c.running == nil {
			c.started++
			ch := make(chan struct{})
			c.running = ch
			c.mu.Unlock()
			err := c.sync()
			c.mu.Lock()
			c.ended, c.err, c.running = c.started, err, nil
			close(ch)
			continue
		}
		ch := c.running
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("queue: waiting for the store's sync: %w", context.Cause(ctx))
		}
		c.mu.Lock()
	}
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("queue: syncing the store: %w", err)
	}
	return nil
}

func (c *committer) background() {
	defer close(c.done)
	t := time.NewTicker(committerIdle)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			_ = c.wait(context.Background())
		}
	}
}

// close stops the background commit after a last commit.
func (c *committer) close() {
	if c == nil {
		return
	}
	close(c.stop)
	<-c.done
	_ = c.wait(context.Background())
}
