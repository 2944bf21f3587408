package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/internal/dirlock"
)

// Provider hands out the process's one queue Client. It starts nothing
// until the first Client call, so roles that use no queue start no server.
// It lives for the whole process: an in-process recycle of the role keeps
// it; the host closes it after the last OnStop. Safe for concurrent use.
type Provider struct {
	opts resolved

	// closing is cancelled (cause ErrClosed) when Close begins, so that a
	// Client call retrying an external server stops at once instead of
	// holding Close up; dialTurn is held by the one call dialling it.
	closing     context.Context
	stopDialing context.CancelCauseFunc
	dialTurn    chan struct{}

	startMu   sync.Mutex    // serialises Client's first call, LockStore and Close
	lock      *dirlock.Lock // the store lock; guarded by startMu
	abandoned chan struct{} // closed once a failed start's server is down; guarded by startMu
	mu        sync.Mutex    // guards the fields below; never held while starting
	client    *Client
	srv       *server.Server
	closed    bool
	waiting   int           // Client calls waiting for the external server
	dial      connectRecord // their attempts so far

	// The embedded store's group commit (nil without one), and the store
	// directory it holds open; guarded by startMu.
	commit     *committer
	commitFile *os.File

	// Observers added before the Client existed (Provider.Observe), and
	// the removers of those attached since, by id.
	obsNext     uint64
	pendingObs  map[uint64]func(Event)
	attachedObs map[uint64]func()
}

// NewProvider validates opts and returns a Provider. It starts nothing and
// dials nothing. Errors wrap ErrBadOptions and name the bad field.
func NewProvider(opts Options) (*Provider, error) {
	r, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	closing, stop := context.WithCancelCause(context.Background())
	return &Provider{opts: r, closing: closing, stopDialing: stop, dialTurn: make(chan struct{}, 1)}, nil
}

// Client returns the shared Client, starting the embedded server (and
// waiting until it accepts connections) or connecting to the URL on the
// first call. Later calls return the same Client. Errors wrap ErrClosed
// after Close.
//
// With a URL, Client blocks until the server accepts the connection,
// retrying with backoff (100 ms doubling to 2 s, with jitter) for as long
// as it takes: through an outage, a refused password or a server not up
// yet alike, since each is fixed on the server or in its config and the
// role recovers by itself once the server accepts it. It returns early
// with ctx's error when ctx ends, or ErrClosed when Close is called; Check
// and Status show the attempts and the last error meanwhile. Concurrent
// calls share one series of attempts.
//
// A failed first call for the embedded server leaves nothing running and
// may be retried.
func (p *Provider) Client(ctx context.Context) (*Client, error) {
	p.mu.Lock()
	c, closed := p.client, p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if c != nil {
		return c, nil
	}
	if p.opts.URL != "" {
		return p.connectExternal(ctx)
	}
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	c, closed = p.client, p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if c != nil {
		return c, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	srv, err := p.startEmbedded(ctx)
	if err != nil {
		return nil, err
	}
	// The in-process connection skips TCP for this process's own client;
	// other tools still reach the server on Listen.
	nc, err := nats.Connect(srv.ClientURL(), append(p.connOptions(), nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("queue: connect to %s: %w", srv.ClientURL(), err)
	}
	c, err = newClient(nc, p.opts.Logger)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	c.commit = p.commit
	p.mu.Lock()
	p.client, p.srv = c, srv
	p.attachObserversLocked(c)
	p.mu.Unlock()
	return c, nil
}

// connOptions are the connection options common to the embedded and the
// external server.
func (p *Provider) connOptions() []nats.Option {
	return []nats.Option{
		nats.Name(p.opts.Name),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			// A nil error with the connection closing is our own Close:
			// not worth a warning.
			if err == nil && (nc.IsClosed() || nc.IsDraining()) {
				p.opts.Logger.Debug("queue: connection closed")
				return
			}
			p.opts.Logger.Warn("queue: disconnected from NATS", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			p.opts.Logger.Info("queue: reconnected to NATS", "server", redactURL(nc.ConnectedUrl()))
			p.mu.Lock()
			c := p.client
			p.mu.Unlock()
			if c != nil {
				c.reconn.happened()
			}
		}),
	}
}

func (p *Provider) authOptions() []nats.Option {
	var o []nats.Option
	if p.opts.CredsFile != "" {
		o = append(o, nats.UserCredentials(p.opts.CredsFile))
	}
	if p.opts.User != "" {
		o = append(o, nats.UserInfo(p.opts.User, p.opts.Password))
	}
	if p.opts.Token != "" {
		o = append(o, nats.Token(p.opts.Token))
	}
	if p.opts.TLSCA != "" {
		o = append(o, nats.RootCAs(p.opts.TLSCA))
	}
	if p.opts.TLSCert != "" {
		o = append(o, nats.ClientCert(p.opts.TLSCert, p.opts.TLSKey))
	}
	return o
}

// Started returns the shared Client if a Client call has made one, else
// nil; it never starts a server or dials. Observers (the fleet view) use it
// to publish only where the role already uses NATS.
func (p *Provider) Started() *Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	return p.client
}

// Close drains the connection (in-flight publishes and acks are flushed),
// shuts the embedded server down (waiting for the server of a failed start
// to stop) and releases the store lock. A Client call still trying to
// reach an external server is interrupted at once and returns ErrClosed.
// Idempotent; safe before any Client call. Workers should have stopped
// first.
func (p *Provider) Close() error {
	p.stopConnecting()
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	c, srv := p.client, p.srv
	p.mu.Unlock()
	var errs []error
	if c != nil {
		errs = append(errs, c.close())
	}
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	_ = p.awaitAbandonedLocked(context.Background())
	// After the server wrote its state at shutdown: a last commit.
	p.commit.close()
	if p.commitFile != nil {
		p.commitFile.Close()
		p.commit, p.commitFile = nil, nil
	}
	// Last: the store is closed, another process may open it.
	errs = append(errs, p.unlockStoreLocked())
	return errors.Join(errs...)
}

// Check reports whether the queues are usable: nil when the Provider was
// never used or its connection is up; otherwise an error naming the state
// (disconnected, reconnecting, closed) or, before the first connection to
// an external server, what Client waits for: the server's URL without
// credentials, the last error and the attempt count; or, once connected to
// an external server, an open queue's stream that has no leader (wrapping
// ErrNoLeader) as the background stream monitor last saw it. It never
// blocks on the network. The host's readiness probe uses it.
func (p *Provider) Check() error {
	p.mu.Lock()
	c, closed := p.client, p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if c == nil {
		return p.connectingErr()
	}
	switch st := c.nc.Status(); st {
	case nats.CONNECTED, nats.DRAINING_PUBS, nats.DRAINING_SUBS:
		return c.mon.check()
	default:
		return fmt.Errorf("queue: NATS connection %s", stateName(st))
	}
}

func stateName(st nats.Status) string {
	switch st {
	case nats.DISCONNECTED:
		return "disconnected"
	case nats.RECONNECTING:
		return "reconnecting"
	case nats.CLOSED:
		return "closed"
	case nats.CONNECTING:
		return "connecting"
	default:
		return st.String()
	}
}

// ProviderStatus is the JSON snapshot returned by Provider.Status.
type ProviderStatus struct {
	Mode       string        `json:"mode"` // "unused", "embedded" or "external"
	URL        string        `json:"url,omitempty"`
	StoreDir   string        `json:"store_dir,omitempty"`
	SyncAlways bool          `json:"sync_always,omitempty"`
	State      string        `json:"state"` // "unused", "connecting", "not connected" (callers gave up), "connected", "reconnecting", "disconnected", "closed"
	Server     string        `json:"server,omitempty"`
	Reconnects uint64        `json:"reconnects"`
	Queues     []QueueFigure `json:"queues,omitempty"`
	Streams    *StreamHealth `json:"streams,omitempty"` // leaders of the open queues' streams (external only)

	// Before the first connection to an external server (State
	// "connecting"): the failed attempts, the last error and when the
	// first attempt began.
	Attempts        int        `json:"attempts,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	ConnectingSince *time.Time `json:"connecting_since,omitempty"`
}

// Status returns a ProviderStatus snapshot; it never contains credentials.
func (p *Provider) Status() ProviderStatus {
	p.mu.Lock()
	c, srv, closed := p.client, p.srv, p.closed
	p.mu.Unlock()
	st := ProviderStatus{Mode: "external", URL: redactURL(p.opts.URL), State: "unused"}
	if p.opts.URL == "" {
		st.Mode, st.StoreDir, st.SyncAlways = "embedded", p.opts.StoreDir, p.opts.syncAlways
		if srv != nil {
			st.URL = srv.ClientURL()
		}
	}
	if closed {
		st.State = "closed"
	}
	if c == nil && !closed {
		p.connectStatus(&st)
	}
	if c != nil && !closed {
		st.State = stateName(c.nc.Status())
		if st.State == "CONNECTED" {
			st.State = "connected"
		}
		st.Server = redactURL(c.nc.ConnectedUrl())
		st.Reconnects = c.nc.Stats().Reconnects
		st.Queues = c.figures()
		st.Streams = c.mon.health()
		sort.Slice(st.Queues, func(i, j int) bool { return st.Queues[i].Name < st.Queues[j].Name })
	}
	return st
}

type providerKey struct{}

// WithProvider returns a copy of ctx carrying p; Connect finds it there.
func WithProvider(ctx context.Context, p *Provider) context.Context {
	return context.WithValue(ctx, providerKey{}, p)
}

// ProviderFrom returns the Provider carried by ctx, or nil.
func ProviderFrom(ctx context.Context) *Provider {
	p, _ := ctx.Value(providerKey{}).(*Provider)
	return p
}

// Connect returns the Client of the Provider carried by ctx (see
// Provider.Client). Errors wrap ErrNoProvider when ctx carries none.
func Connect(ctx context.Context) (*Client, error) {
	p := ProviderFrom(ctx)
	if p == nil {
		return nil, ErrNoProvider
	}
	return p.Client(ctx)
}

// Client is a connection to NATS JetStream shared by all queues of the
// process. Safe for concurrent use. Closed only by its Provider.
type Client struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
	mon *streamMonitor // nil for the embedded server

	reconn    *reconnects
	commit    *committer // the embedded store's group commit; nil: every write is synced by the server
	observers observers  // of the workers' job events (Observe)
	pub       batchPub   // EnqueueBatch's publishes

	mu     sync.Mutex
	queues map[string]*Queue
}

func newClient(nc *nats.Conn, log *slog.Logger) (*Client, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		log.Warn("queue: async publish failed", "subject", m.Subject, "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("queue: jetstream: %w", err)
	}
	return &Client{nc: nc, js: js, log: log, queues: make(map[string]*Queue), reconn: newReconnects(), pub: batchPub{nc: nc}}, nil
}

// Conn returns the underlying NATS connection. Do not close it.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Synced returns once every write the server acknowledged before the call
// is on disk, or with ctx's error. With the embedded server under Sync
// "always" on Linux it waits for the next group commit (see Options.Sync);
// otherwise the server syncs by its own policy and Synced returns nil at
// once. For code that writes through Conn or JetStream itself and must
// not report a write as stored before it is durable, as Enqueue does.
// Safe for concurrent use.
func (c *Client) Synced(ctx context.Context) error { return c.commit.wait(ctx) }

// JetStream returns the JetStream context of the connection.
func (c *Client) JetStream() jetstream.JetStream { return c.js }

func (c *Client) close() error {
	c.mon.stop()
	if c.nc.IsClosed() {
		return nil
	}
	// With no subscription left but the client's own request mux (the
	// workers have stopped), a flush delivers everything published so far
	// and Close is enough: Drain polls for its subscriptions to go away
	// every 10 ms, a tenth of a millisecond's work made 10 ms of every stop.
	if c.nc.NumSubscriptions() <= 1 {
		// Nothing reaches a server that is not there: do not wait for it.
		if !c.nc.IsConnected() {
			c.nc.Close()
			return nil
		}
		if err := c.nc.FlushTimeout(time.Second); err == nil {
			c.nc.Close()
			return nil
		}
	}
	done := make(chan struct{})
	c.nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := c.nc.Drain(); err != nil {
		c.nc.Close()
		return nil
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.nc.Close()
	}
	return nil
}

func (c *Client) figures() []QueueFigure {
	c.mu.Lock()
	qs := make([]*Queue, 0, len(c.queues))
	for _, q := range c.queues {
		qs = append(qs, q)
	}
	c.mu.Unlock()
	out := make([]QueueFigure, 0, len(qs))
	for _, q := range qs {
		out = append(out, q.figure())
	}
	return out
}
