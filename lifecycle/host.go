package lifecycle

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/sethvargo/go-retry"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/fleet"
	"github.com/cloudrole/cloudrole/health"
	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// Host runs one role. Create it with New, run it with Run.
type Host struct {
	role role.Role
	opts Options

	// ctx is cancelled, with the stop's cause, when the host stops.
	ctx    context.Context
	cancel context.CancelCauseFunc

	status *hostctx.Registry
	start  time.Time

	tokens    []config.Token // operator tokens of the jobs API, read at start as the console's are
	queues    *queue.Provider
	ownQueues bool // built by the host from config, so closed by it
	fleet     *fleet.Publisher

	pings     chan chan struct{}
	reloadNow chan struct{}
	forced    chan struct{} // closed by forceExit
	ran       atomic.Bool
	stopOnce  sync.Once
	forceOnce sync.Once
	forcedErr *ForcedExitError
	healthAt  atomic.Pointer[net.Addr]

	mu          sync.Mutex
	cfg         *config.Config
	configSum   [32]byte // of the file content the running config came from
	badSum      [32]byte // of the last content rejected as malformed
	configErr   string
	changed     chan struct{} // closed and replaced on every accepted config change
	state       State
	stateSince  time.Time
	stopping    bool
	hook        string // the hook (or phase) the instance loop is in
	inst        *instance
	autoFrozen  string // why the host froze itself; "" if it did not
	opFrozen    string // why an operator froze it (Freeze); "" if none did
	streak      int    // consecutive failed or short-lived instances
	recycles    int
	nextStart   time.Time
	history     []Recycle
	deadline    *time.Timer
	deadlineFor time.Duration
	deadlineAt  time.Time
	backoff     retry.Backoff
}

// New returns a host for r with a validated config (from config.Load,
// config.Parse or config.Default).
func New(r role.Role, cfg *config.Config, opts Options) (*Host, error) {
	if r == nil {
		return nil, errors.New("lifecycle: nil role")
	}
	if cfg == nil {
		return nil, errors.New("lifecycle: nil config")
	}
	// A config changed in code after Load skipped the file's checks.
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	opts.fill()
	h := &Host{
		role:      r,
		opts:      opts,
		status:    hostctx.NewRegistry(),
		pings:     make(chan chan struct{}),
		reloadNow: make(chan struct{}, 1),
		forced:    make(chan struct{}),
		cfg:       cfg,
		changed:   make(chan struct{}),
		state:     StateStarting,
	}
	var err error
	if h.tokens, err = cfg.Console.ConsoleTokens(); err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	h.queues = opts.Queues
	if h.queues == nil {
		q, err := newQueueProvider(cfg, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: nats: %w", err)
		}
		h.queues, h.ownQueues = q, true
	}
	h.fleet = fleet.NewPublisher(cfg.Role.Name, cfg.Role.InstanceID, cfg.Role.Deployment, func() (string, fleet.Summary, any) {
		st := h.Status()
		return string(st.State), st.Summary(), st
	}, h.queues.Started, opts.Logger)
	h.ctx, h.cancel = context.WithCancelCause(context.Background())
	if cfg.File != "" {
		if data, err := os.ReadFile(cfg.File); err == nil {
			h.configSum = sha256.Sum256(data)
		}
	}
	return h, nil
}

// Run runs the role until the host stops: ctx is done, a SIGINT/SIGTERM
// arrives, or Stop is called. It returns nil after a clean stop, a
// *CrashLoopError, a *ForcedExitError (when Options.Exit returned), or the
// error that kept the host from running. With the embedded NATS server
// (nats.url empty) and a provider the host built itself, Run first locks
// the store (queue.Provider.LockStore), before the health listener, the
// startup tasks or OnStart: if another process holds it, Run returns at
// once an error wrapping queue.ErrStoreLocked that names the directory and
// that process, having started nothing. Run may be called once.
func (h *Host) Run(ctx context.Context) error {
	if !h.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	h.start = h.opts.Clock.Now()
	defer h.disarmDeadline(true)
	if h.ctx.Err() != nil {
		// Stopped before it ran: nothing to start, nothing to stop.
		h.closeQueues()
		h.setState(StateStopped)
		return nil
	}

	sigs, unsubscribe := h.subscribeSignals()
	defer unsubscribe()
	ln := h.opts.HealthListener
	// Before anything starts: a second process on the same embedded store
	// would run its own server on it beside ours and lose jobs silently.
	if h.ownQueues {
		if err := h.queues.LockStore(); err != nil {
			if ln != nil {
				ln.Close()
			}
			h.closeQueues()
			return fmt.Errorf("lifecycle: %w", err)
		}
	}
	if ln == nil {
		var err error
		if ln, err = health.Listen(h.config().Health.Addr); err != nil {
			h.closeQueues()
			return fmt.Errorf("lifecycle: health.addr %q: %w (another process, or another copy of this role, listens there? set health.addr to a free address, 127.0.0.1:0 for any, or off)", h.config().Health.Addr, err)
		}
	}
	handler, err := h.handler()
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		h.closeQueues()
		return err
	}
	if dir := h.config().Role.DataDir; dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			if ln != nil {
				ln.Close()
			}
			h.closeQueues()
			return fmt.Errorf("lifecycle: data dir: %w", err)
		}
	}

	var g run.Group
	g.Add(func() error { return h.loop(h.ctx) }, func(err error) { h.Stop(err) })
	if ctx == nil {
		ctx = context.Background()
	}
	h.addActor(&g, func(actx context.Context) error {
		// The caller's context is one more way to stop; the actor itself
		// ends only when the group interrupts it.
		select {
		case <-ctx.Done():
			h.Stop(context.Cause(ctx))
		case <-actx.Done():
			return nil
		}
		<-actx.Done()
		return nil
	})
	h.addActor(&g, func(ctx context.Context) error { return h.signals(ctx, sigs) })
	h.addActor(&g, h.fleet.Run)
	h.addActor(&g, h.control)
	if ln != nil {
		srv := health.NewServer(ln, handler, h.opts.Logger)
		addr := srv.Addr()
		h.healthAt.Store(&addr)
		h.opts.Logger.Info("health endpoint listening", "addr", addr.String())
		h.addActor(&g, func(ctx context.Context) error {
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve() }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			return <-errc
		})
	}

	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	select {
	case err := <-done:
		// After the last OnStop: workers have stopped, so the connection
		// drains cleanly and the embedded server's store is closed before
		// the process exits.
		h.closeQueues()
		h.mu.Lock()
		h.inst = nil
		ev := h.setStateLocked(StateStopped)
		h.mu.Unlock()
		h.emit(ev)
		return err
	case <-h.forced:
		return h.forcedErr
	}
}

// closeQueues closes the queue provider if the host built it: the
// connection, the embedded server and the store lock.
func (h *Host) closeQueues() {
	if !h.ownQueues {
		return
	}
	if err := h.queues.Close(); err != nil {
		h.opts.Logger.Error("closing the queue connection", "error", err.Error())
	}
}

// addActor adds an actor that runs until its context is cancelled by the
// group's interrupt. The interrupt only cancels, so it returns at once.
func (h *Host) addActor(g *run.Group, execute func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	g.Add(func() error { return execute(ctx) }, func(error) { cancel() })
}

// Stop begins a graceful stop with the given cause and returns at once. It
// is idempotent; the first cause wins. The stop deadline starts now. Stop
// before Run is allowed: Run then returns nil at once, starting nothing.
func (h *Host) Stop(cause error) {
	h.stopOnce.Do(func() {
		if cause == nil || !errors.Is(cause, ErrStopping) {
			if cause == nil {
				cause = ErrStopping
			} else {
				cause = fmt.Errorf("%w: %w", ErrStopping, cause)
			}
		}
		h.mu.Lock()
		h.stopping = true
		h.mu.Unlock()
		h.opts.Logger.Info("host stopping", "cause", cause.Error())
		// Before Run there is nothing to stop, so no deadline: Run will
		// return at once (a deadline armed here killed the process when
		// Run came later than it, or never).
		if h.ran.Load() {
			h.armDeadline()
		}
		h.emit(HostStopping{Cause: cause})
		h.cancel(cause)
	})
}

// Reload checks the config file now (as SIGHUP does) and also lifts an
// auto-freeze even if the file did not change. It returns at once.
func (h *Host) Reload() {
	select {
	case h.reloadNow <- struct{}{}:
	default:
	}
}

// Queues returns the process-lifetime queue provider roles reach with
// queue.Connect (the one in Options.Queues, or the host's own).
func (h *Host) Queues() *queue.Provider { return h.queues }

// HealthAddr returns the address the health endpoint listens on, or nil if
// it is off or Run has not started it.
func (h *Host) HealthAddr() net.Addr {
	if a := h.healthAt.Load(); a != nil {
		return *a
	}
	return nil
}

func (h *Host) config() *config.Config {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg
}

func (h *Host) setState(s State) {
	h.mu.Lock()
	ev := h.setStateLocked(s)
	h.mu.Unlock()
	h.emit(ev)
}

// setStateLocked changes the state and returns the event to emit once h.mu
// is released (nil if the state did not change).
func (h *Host) setStateLocked(s State) Event {
	if h.state == s {
		return nil
	}
	h.state = s
	h.stateSince = h.opts.Clock.Now()
	logger, inc := h.opts.Logger, 0
	if h.inst != nil {
		logger, inc = h.inst.logger, h.inst.id.Incarnation
	}
	logger.Info("state", "state", string(s))
	return StateChanged{Incarnation: inc, State: s, At: h.stateSince}
}

func (h *Host) setHook(name string) {
	h.mu.Lock()
	h.hook = name
	h.mu.Unlock()
}
