package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sethvargo/go-retry"
)

// The backoff between attempts to reach an external server. The cap is
// nats.go's own reconnect wait, so a server down at start and one lost
// while running are retried at the same pace.
const (
	connectBase   = 100 * time.Millisecond
	connectMax    = 2 * time.Second
	connectJitter = 20 // percent
	// connectRemind is how often a failure that keeps repeating is logged
	// again: one line per distinct error, then one per connectRemind.
	connectRemind = time.Minute
)

// connectRecord is the series of attempts to reach an external server
// before the first connection, guarded by Provider.mu. It is cleared once
// connected: later outages are nats.go's reconnects.
type connectRecord struct {
	since    time.Time // the first attempt
	attempts int       // attempts that failed
	lastErr  string    // the last failure, credentials scrubbed
	backoff  retry.Backoff
	logged   string // the failure last logged, and when
	loggedAt time.Time
}

// connectExternal is Client for an external server: it waits for its turn
// to dial (one call dials at a time; the others wait for its result or take
// over when its ctx ends), then tries until connected.
func (p *Provider) connectExternal(ctx context.Context) (*Client, error) {
	p.mu.Lock()
	p.waiting++
	if p.dial.since.IsZero() {
		p.dial.since = time.Now()
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
	}()
	select {
	case p.dialTurn <- struct{}{}:
	case <-ctx.Done():
		return nil, p.gaveUp(ctx)
	case <-p.closing.Done():
		return nil, fmt.Errorf("queue: connect to %s: %w", redactURL(p.opts.URL), ErrClosed)
	}
	defer func() { <-p.dialTurn }()
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	if c != nil {
		return c, nil // connected by the call that had the turn before
	}

	// Close interrupts a dial or a backoff wait through actx.
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(p.closing, func() { cancel(ErrClosed) })()
	for {
		if p.closing.Err() != nil {
			return nil, fmt.Errorf("queue: connect to %s: %w", redactURL(p.opts.URL), ErrClosed)
		}
		if ctx.Err() != nil {
			return nil, p.gaveUp(ctx)
		}
		nc, err := p.dialOnce(actx)
		if err == nil {
			return p.connected(nc)
		}
		if actx.Err() != nil {
			continue // ctx or Close, reported at the top
		}
		t := time.NewTimer(p.failed(err))
		select {
		case <-t.C:
		case <-actx.Done():
			t.Stop()
		}
	}
}

// connected makes nc the Provider's Client, unless Close has begun.
func (p *Provider) connected(nc *nats.Conn) (*Client, error) {
	c, err := newClient(nc, p.opts.Logger)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if p.closing.Err() != nil {
		// Close waits for the dialling turn, which is still ours, and has
		// not looked at p.client yet: close what it will not see.
		nc.Close()
		return nil, fmt.Errorf("queue: connect to %s: %w", redactURL(p.opts.URL), ErrClosed)
	}
	// An external server's streams can lose their leader while the
	// connection stays up: watch them for Check and Status.
	c.mon = startStreamMonitor(c, p.opts.Logger)
	p.mu.Lock()
	rec := p.dial
	p.client, p.dial = c, connectRecord{}
	p.attachObserversLocked(c)
	p.mu.Unlock()
	args := []any{"server", redactURL(nc.ConnectedUrl())}
	if rec.attempts > 0 {
		args = append(args, "failed_attempts", rec.attempts, "after", time.Since(rec.since).Round(time.Millisecond).String())
	}
	p.opts.Logger.Info("queue: connected to NATS", args...)
	return c, nil
}

// dialOnce makes one connection attempt, which ctx interrupts: the dial,
// and the handshake, whose connection is closed when ctx ends.
func (p *Provider) dialOnce(ctx context.Context) (*nats.Conn, error) {
	d := &attemptDialer{ctx: ctx}
	opts := append(p.connOptions(), p.authOptions()...)
	opts = append(opts, nats.SetCustomDialer(d))
	nc, err := nats.Connect(p.opts.URL, opts...)
	dialErrs := d.detach()
	if err == nil {
		return nc, nil
	}
	var op *net.OpError
	if len(dialErrs) > 0 && (errors.Is(err, nats.ErrNoServers) || errors.As(err, &op)) {
		// nats.go drops "connection refused" for "no servers available";
		// the dialer saw the real cause.
		return nil, errors.New(strings.Join(dialErrs, "; "))
	}
	return nil, err
}

// failed records a failed attempt, logs it when it is new or due for a
// reminder, and returns the delay before the next attempt.
func (p *Provider) failed(err error) time.Duration {
	msg := p.scrub(err.Error())
	now := time.Now()
	p.mu.Lock()
	r := &p.dial
	r.attempts++
	r.lastErr = msg
	if r.backoff == nil {
		r.backoff = retry.WithJitterPercent(connectJitter, retry.WithCappedDuration(connectMax, retry.NewExponential(connectBase)))
	}
	delay, _ := r.backoff.Next()
	fresh := msg != r.logged
	remind := !fresh && now.Sub(r.loggedAt) >= p.opts.connectRemind
	if fresh || remind {
		r.logged, r.loggedAt = msg, now
	}
	attempts, since := r.attempts, r.since
	p.mu.Unlock()
	switch {
	case fresh:
		p.opts.Logger.Warn("queue: cannot connect to NATS; retrying", "url", redactURL(p.opts.URL), "err", msg,
			"attempt", attempts, "retry_in", delay.Round(time.Millisecond).String())
	case remind:
		p.opts.Logger.Warn("queue: still cannot connect to NATS; retrying", "url", redactURL(p.opts.URL), "err", msg,
			"attempts", attempts, "for", now.Sub(since).Round(time.Second).String())
	}
	return delay
}

// gaveUp is the error of a Client call whose ctx ended before a connection.
func (p *Provider) gaveUp(ctx context.Context) error {
	p.mu.Lock()
	attempts, last := p.dial.attempts, p.dial.lastErr
	p.mu.Unlock()
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	if attempts == 0 {
		return fmt.Errorf("queue: connect to %s: %w", redactURL(p.opts.URL), err)
	}
	return fmt.Errorf("queue: connect to %s: %w (after %d failed attempts; last: %s)", redactURL(p.opts.URL), err, attempts, last)
}

// stopConnecting ends the Client calls that are trying to reach an
// external server and waits until the one dialling has let go, so that
// Close sees the connection it may have made. It takes no lock a dialling
// call holds.
func (p *Provider) stopConnecting() {
	if p.stopDialing == nil {
		return // not made by NewProvider: nothing can be dialling
	}
	p.stopDialing(ErrClosed)
	p.dialTurn <- struct{}{}
	<-p.dialTurn
}

// connectingErr is Check's answer before the first connection: nil if no
// Client call has tried yet, otherwise what it is waiting for.
func (p *Provider) connectingErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.dial.attempts > 0:
		return fmt.Errorf("waiting for NATS at %s: %s (attempt %d)", redactURL(p.opts.URL), p.dial.lastErr, p.dial.attempts)
	case p.waiting > 0:
		return fmt.Errorf("connecting to NATS at %s", redactURL(p.opts.URL))
	}
	return nil
}

// connectStatus fills st's connecting fields before the first connection.
func (p *Provider) connectStatus(st *ProviderStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.waiting > 0:
		st.State = "connecting"
	case p.dial.attempts > 0:
		st.State = "not connected" // the callers gave up; the next one resumes
	default:
		return
	}
	st.Attempts, st.LastError = p.dial.attempts, p.dial.lastErr
	since := p.dial.since
	st.ConnectingSince = &since
}

// scrub removes the configured secrets from s. nats.go's errors are not
// known to carry them, but a reason shown on /readyz must never do so.
func (p *Provider) scrub(s string) string {
	secrets := []string{p.opts.Password, p.opts.Token}
	for _, u := range strings.Split(p.opts.URL, ",") {
		if pu, err := url.Parse(strings.TrimSpace(u)); err == nil && pu.User != nil {
			if pw, ok := pu.User.Password(); ok {
				secrets = append(secrets, pw)
			} else {
				secrets = append(secrets, pu.User.Username()) // nats://token@host
			}
		}
	}
	// Longest first, so a secret that contains another goes whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return s
}

// attemptDialer dials for one connection attempt, bound to its ctx: the
// dial honours ctx, and a connection made is closed if ctx ends before
// detach, which interrupts a stalled handshake. It records why dials
// failed. After detach it serves the connection's own reconnects, unbound.
type attemptDialer struct {
	mu    sync.Mutex
	ctx   context.Context // nil once detached
	stops []func() bool
	errs  []string
}

// Dial implements nats.CustomDialer.
func (d *attemptDialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	nd := net.Dialer{Timeout: nats.DefaultTimeout}
	conn, err := nd.DialContext(ctx, network, address)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		return conn, err
	}
	if err != nil {
		d.errs = append(d.errs, address+": "+dialCause(err))
		return nil, err
	}
	d.stops = append(d.stops, context.AfterFunc(d.ctx, func() { conn.Close() }))
	return conn, nil
}

// detach unbinds the dialer from the attempt's ctx and returns the dial
// failures, one per server; with one distinct cause, just that cause.
func (d *attemptDialer) detach() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, stop := range d.stops {
		stop()
	}
	d.ctx, d.stops = nil, nil
	slices.Sort(d.errs)
	errs := slices.Compact(d.errs)
	causes := map[string]bool{}
	for _, e := range errs {
		_, cause, _ := strings.Cut(e, ": ")
		causes[cause] = true
	}
	if len(causes) == 1 {
		for cause := range causes {
			return []string{cause}
		}
	}
	return errs
}

// dialCause is the root of a dial error: "connection refused" rather than
// "dial tcp 127.0.0.1:4222: connect: connection refused".
func dialCause(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
