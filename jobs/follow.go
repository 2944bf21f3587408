package jobs

import (
	"context"
	"errors"
	"sync"
)

// errFollowDone ends the consumer of a followed run that has ended.
var errFollowDone = errors.New("jobs: followed run ended")

// Follow calls fn with each of the run's lines in order, from its first
// line, as they are stored (a live tail), until the run has ended and its
// last line was delivered; then it returns the ended run. It hands nothing
// over (Receive's cursor is unchanged). If fn returns an error, or ctx
// ends, Follow returns that. Errors wrap ErrBadRunID or ErrNotFound.
func (c *Client) Follow(ctx context.Context, id string, fn func(Line) error) (Run, error) {
	if err := CheckRunID(id); err != nil {
		return Run{}, err
	}
	if _, err := c.st.get(ctx, id); err != nil {
		return Run{}, err
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		mu        sync.Mutex
		delivered uint64
		ended     bool
		final     uint64 // the last line's sequence, once ended
		endRun    Run
		endErr    error
	)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		r, err := c.Wait(cctx, id)
		var last uint64
		if err == nil {
			last, err = c.lastSeq(cctx, id)
		}
		mu.Lock()
		defer mu.Unlock()
		ended, final, endRun, endErr = true, last, r, err
		if err != nil || delivered >= final {
			cancel(errFollowDone)
		}
	}()
	err := c.consume(cctx, id, 0, func(l Line) (bool, error) {
		if err := fn(l); err != nil {
			return false, err
		}
		mu.Lock()
		defer mu.Unlock()
		delivered = l.Seq
		return !(ended && delivered >= final), nil
	})
	cancel(errFollowDone)
	<-waited
	switch {
	case err != nil && !errors.Is(err, errFollowDone):
		return Run{}, err
	case endErr != nil && !errors.Is(endErr, errFollowDone):
		return Run{}, endErr
	case ctx.Err() != nil:
		return Run{}, context.Cause(ctx)
	}
	return endRun, nil
}
