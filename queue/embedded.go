package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedMaxPayload is the embedded server's max_payload: the largest
// Config.MaxPayload, so every queue that Config accepts fits. nats-server
// refuses a max_payload above max_pending, whose default (64 MiB,
// server.MAX_PENDING_SIZE) is exactly this.
const embeddedMaxPayload = 64 << 20

// readyPoll is how often startEmbedded looks whether the server listens;
// a failure or ctx ending is seen at once, without waiting for a poll.
const readyPoll = 10 * time.Millisecond

// readyAfterStart bounds the wait for a server whose Start returned
// without a failure but which does not listen (nats-server 2.15 listens
// before Start returns; this guards a later version that might not).
const readyAfterStart = 10 * time.Second

// startEmbedded locks the store (if LockStore was not called), starts the
// embedded server and waits until it accepts clients. It returns at once
// when the server reports a fatal error (a busy Listen address, an
// unusable store) or ctx ends; a server that failed or was abandoned is
// shut down in the background once its Start returns (abandonLocked).
// p.startMu is held.
func (p *Provider) startEmbedded(ctx context.Context) (*server.Server, error) {
	if err := p.lockStoreLocked(); err != nil {
		return nil, err
	}
	if err := p.awaitAbandonedLocked(ctx); err != nil {
		return nil, err
	}
	so := &server.Options{
		ServerName:   "cloudrole-embedded",
		Host:         p.opts.host,
		Port:         p.opts.port,
		JetStream:    true,
		StoreDir:     p.opts.StoreDir,
		SyncAlways:   p.opts.syncAlways,
		SyncInterval: p.opts.syncInterval,
		MaxPayload:   embeddedMaxPayload,
		NoSigs:       true,
		NoLog:        true, // not the server's stderr logger: ours is set below
	}
	if p.opts.syncAlways && p.commit == nil {
		// sync "always" through a group commit (see committer) where the
		// OS allows it; the server's own interval sync is a backstop.
		c, f, err := newStoreCommitter(p.opts.StoreDir)
		if err != nil {
			return nil, fmt.Errorf("queue: embedded store %s: %w", p.opts.StoreDir, err)
		}
		if c != nil {
			p.commit, p.commitFile = c, f
			so.SyncAlways, so.SyncInterval = false, commitBackstop
		}
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("queue: embedded server: %w", err)
	}
	// Without a logger the server's fatal errors, such as a listen
	// failure, are silent and it merely never becomes ready.
	lg := newServerLogger(p.opts.Logger)
	srv.SetLoggerV2(lg, false, false, false)
	started := make(chan struct{})
	go func() {
		defer close(started)
		srv.Start()
	}()
	if err := p.awaitReady(ctx, srv, started, lg); err != nil {
		p.abandonLocked(srv, started)
		return nil, err
	}
	if err := p.lock.SetURL(srv.ClientURL()); err != nil {
		// Only tools looking for the server (EmbeddedURL) miss it.
		p.opts.Logger.Warn("queue: cannot record the embedded server's URL in the store lock", "err", err)
	}
	p.opts.Logger.Info("queue: embedded NATS server started", "url", srv.ClientURL(), "store", p.opts.StoreDir, "sync_always", p.opts.syncAlways)
	return srv, nil
}

// awaitReady waits until srv listens with JetStream on, the server reports
// a fatal error, or ctx ends.
func (p *Provider) awaitReady(ctx context.Context, srv *server.Server, started <-chan struct{}, lg *serverLogger) error {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	giveUp := time.NewTimer(readyAfterStart)
	giveUp.Stop() // armed when Start returns
	defer giveUp.Stop()
	for {
		// A caller that gave up gets no server, even one just ready.
		if ctx.Err() != nil {
			return fmt.Errorf("queue: embedded server on %s with store %s: start abandoned: %w", p.opts.listenAddr(), p.opts.StoreDir, context.Cause(ctx))
		}
		if err := lg.failure(); err != nil {
			return p.startError(err)
		}
		if srv.Addr() != nil && srv.JetStreamEnabled() {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-lg.failed:
		case <-started:
			started = nil // closed: look once more, then poll
			giveUp.Reset(readyAfterStart)
		case <-giveUp.C:
			return fmt.Errorf("queue: embedded server on %s with store %s started but does not listen after %v", p.opts.listenAddr(), p.opts.StoreDir, readyAfterStart)
		case <-tick.C:
		}
	}
}

// startError names what the server's fatal error was about.
func (p *Provider) startError(err error) error {
	var le *listenError
	if errors.As(err, &le) {
		return fmt.Errorf("queue: embedded server cannot listen on %s (Listen, nats.listen): %w", le.addr, le.err)
	}
	return fmt.Errorf("queue: embedded server on %s with store %s failed to start: %w", p.opts.listenAddr(), p.opts.StoreDir, err)
}

// abandonLocked shuts srv down once its Start has returned. Shutting a
// server down while Start still runs could leave what Start brings up
// after that point (JetStream, the listener) running; so the caller
// returns at once and a goroutine waits. The next start and Close wait
// for it (awaitAbandonedLocked): the store must be closed before it is
// opened again or unlocked. p.startMu is held.
func (p *Provider) abandonLocked(srv *server.Server, started <-chan struct{}) {
	done := make(chan struct{})
	p.abandoned = done
	go func() {
		defer close(done)
		<-started
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
}

// awaitAbandonedLocked waits until a server abandoned by an earlier start
// has shut down, or ctx ends. p.startMu is held.
func (p *Provider) awaitAbandonedLocked(ctx context.Context) error {
	if p.abandoned == nil {
		return nil
	}
	select {
	case <-p.abandoned:
		p.abandoned = nil
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: waiting for the embedded server of an abandoned start to stop: %w", context.Cause(ctx))
	}
}

// listenAddr is the embedded server's Listen address as configured (port
// -1: a free one).
func (r resolved) listenAddr() string { return net.JoinHostPort(r.host, strconv.Itoa(r.port)) }

// listenError is the server's report that it cannot listen.
type listenError struct {
	addr string
	err  error
}

func (e *listenError) Error() string { return "listen on " + e.addr + ": " + e.err.Error() }
func (e *listenError) Unwrap() error { return e.err }

// serverLogger is the embedded server's logger: it forwards the server's
// warnings and errors to the queue's slog logger (notices at debug level)
// and keeps the first fatal error, which the server reports instead of
// exiting when it is embedded.
type serverLogger struct {
	log    *slog.Logger
	once   sync.Once
	failed chan struct{} // closed at the first fatal error
	err    error         // set before failed is closed
}

var _ server.Logger = (*serverLogger)(nil)

func newServerLogger(log *slog.Logger) *serverLogger {
	return &serverLogger{log: log, failed: make(chan struct{})}
}

// failure returns the first fatal error, or nil.
func (l *serverLogger) failure() error {
	select {
	case <-l.failed:
		return l.err
	default:
		return nil
	}
}

func (l *serverLogger) emit(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, "queue: nats-server: "+fmt.Sprintf(format, v...))
}

// Noticef logs at debug level: the server's startup banner and routine
// events are not the role's news.
func (l *serverLogger) Noticef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }

// Warnf logs at warn level, except the warning about a max_payload over
// 8 MiB: embeddedMaxPayload is chosen, not a mistake.
func (l *serverLogger) Warnf(format string, v ...any) {
	level := slog.LevelWarn
	if strings.HasPrefix(format, "Maximum payloads over") {
		level = slog.LevelDebug
	}
	l.emit(level, format, v)
}

// Errorf logs at error level.
func (l *serverLogger) Errorf(format string, v ...any) { l.emit(slog.LevelError, format, v) }

// Fatalf logs at error level and records the failure; the server returns
// from what failed instead of exiting the process.
func (l *serverLogger) Fatalf(format string, v ...any) {
	l.emit(slog.LevelError, format, v)
	l.once.Do(func() {
		l.err = fatalError(format, v)
		close(l.failed)
	})
}

// fatalError turns a fatal report into an error, keeping the cause of a
// listen failure (nats-server 2.15: "Error listening on port: %s, %q" with
// the address and the error) so that errors.Is finds, e.g., EADDRINUSE.
func fatalError(format string, v []any) error {
	if strings.HasPrefix(format, "Error listening on port") && len(v) == 2 {
		addr, _ := v[0].(string)
		if err, ok := v[1].(error); ok {
			return &listenError{addr: addr, err: err}
		}
	}
	return errors.New(fmt.Sprintf(format, v...))
}

// Debugf logs at debug level (the server calls it only in debug mode).
func (l *serverLogger) Debugf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }

// Tracef is dropped: trace mode is off.
func (l *serverLogger) Tracef(string, ...any) {}
