package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Provider hands out the process's one queue Client. It starts nothing
// until the first Client call, so roles that use no queue start no server.
// It lives for the whole process: an in-process recycle of the role keeps
// it; the host closes it after the last OnStop. Safe for concurrent use.
type Provider struct {
	opts resolved

	startMu sync.Mutex // serialises Client's first call and Close
	mu      sync.Mutex // guards the fields below; never held while starting
	client  *Client
	srv     *server.Server
	closed  bool
}

// NewProvider validates opts and returns a Provider. It starts nothing and
// dials nothing. Errors wrap ErrBadOptions and name the bad field.
func NewProvider(opts Options) (*Provider, error) {
	r, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return &Provider{opts: r}, nil
}

// Client returns the shared Client, starting the embedded server (and
// waiting until it accepts connections) or dialling the URL on the first
// call. Later calls return the same Client. A failed first call leaves
// nothing running and may be retried. Errors wrap ErrClosed after Close.
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
	nopts := []nats.Option{
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
			p.opts.Logger.Info("queue: reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		}),
	}
	var srv *server.Server
	url := p.opts.URL
	if url == "" {
		var err error
		srv, err = p.startEmbedded(ctx)
		if err != nil {
			return nil, err
		}
		url = srv.ClientURL()
		// The in-process connection skips TCP for this process's own
		// client; other tools still reach the server on Listen.
		nopts = append(nopts, nats.InProcessServer(srv))
	} else {
		nopts = append(nopts, p.authOptions()...)
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		if srv != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
		return nil, fmt.Errorf("queue: connect to %s: %w", redactURL(url), err)
	}
	c, err = newClient(nc, p.opts.Logger)
	if err != nil {
		nc.Close()
		if srv != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
		return nil, err
	}
	if srv == nil {
		c.mon = startStreamMonitor(c, p.opts.Logger)
	}
	p.mu.Lock()
	p.client, p.srv = c, srv
	p.mu.Unlock()
	return c, nil
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

func (p *Provider) startEmbedded(ctx context.Context) (*server.Server, error) {
	so := &server.Options{
		ServerName:   "cloudrole-embedded",
		Host:         p.opts.host,
		Port:         p.opts.port,
		JetStream:    true,
		StoreDir:     p.opts.StoreDir,
		SyncAlways:   p.opts.syncAlways,
		SyncInterval: p.opts.syncInterval,
		NoSigs:       true,
		NoLog:        true,
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("queue: embedded server: %w", err)
	}
	srv.Start()
	wait := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("queue: embedded server on %s with store %s not ready within %v", p.opts.Listen, p.opts.StoreDir, wait)
	}
	p.opts.Logger.Info("queue: embedded NATS server started", "url", srv.ClientURL(), "store", p.opts.StoreDir, "sync_always", p.opts.syncAlways)
	return srv, nil
}

// Close drains the connection (in-flight publishes and acks are flushed)
// and shuts the embedded server down. Idempotent; safe before any Client
// call. Workers should have stopped first.
func (p *Provider) Close() error {
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
	return errors.Join(errs...)
}

// Check reports whether the queues are usable: nil when the Provider was
// never used or its connection is up; otherwise an error naming the state
// (disconnected, reconnecting, closed), or, on an external server, naming
// an open queue's stream that has no leader (wrapping ErrNoLeader) as the
// background stream monitor last saw it. It never blocks on the network.
// The host's readiness probe uses it.
func (p *Provider) Check() error {
	p.mu.Lock()
	c, closed := p.client, p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if c == nil {
		return nil
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
	State      string        `json:"state"`
	Server     string        `json:"server,omitempty"`
	Reconnects uint64        `json:"reconnects"`
	Queues     []QueueFigure `json:"queues,omitempty"`
	Streams    *StreamHealth `json:"streams,omitempty"` // leaders of the open queues' streams (external only)
}

// Status returns a ProviderStatus snapshot; it never contains credentials.
func (p *Provider) Status() any {
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
	if c != nil && !closed {
		st.State = stateName(c.nc.Status())
		if st.State == "CONNECTED" {
			st.State = "connected"
		}
		st.Server = c.nc.ConnectedUrlRedacted()
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
	return &Client{nc: nc, js: js, log: log, queues: make(map[string]*Queue)}, nil
}

// Conn returns the underlying NATS connection. Do not close it.
func (c *Client) Conn() *nats.Conn { return c.nc }

// JetStream returns the JetStream context of the connection.
func (c *Client) JetStream() jetstream.JetStream { return c.js }

func (c *Client) close() error {
	c.mon.stop()
	if c.nc.IsClosed() {
		return nil
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
