package cloudrole

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/console"
	"github.com/cloudrole/cloudrole/health"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/metrics"
)

// extras are what Main adds to every host: Prometheus metrics at /metrics
// and the web console, both on the health server through the routes seam
// (the console on a listener of its own when console.addr says so).
type extras struct {
	host    *lifecycle.Host
	metrics *metrics.Metrics
	console *console.Console
	own     *health.Server // the console's own server, if console.addr is host:port
}

// wire adds the extras' routes and event handlers to hopts; attach then
// binds them to the host New made, before Run.
func (x *extras) wire(cfg *config.Config, hopts *lifecycle.Options) {
	user := hopts.Routes
	hopts.Routes = func(mux *http.ServeMux) {
		if user != nil {
			user(mux)
		}
		mux.Handle("GET /metrics", x.metrics.Handler())
		if x.console != nil && x.own == nil {
			x.console.Routes(mux)
		}
	}
	hopts.Events = chainEvents(hopts.Events, func(ev lifecycle.Event) {
		if x.metrics != nil {
			x.metrics.HostEvent(ev)
		}
	})
}

// attach builds the metrics and the console for h (the Host that New
// returned) and, for a console with its own address, its listener.
func (x *extras) attach(h *lifecycle.Host, cfg *config.Config, logger *slog.Logger) error {
	x.host = h
	x.metrics = metrics.New(metrics.Options{Status: h.Status, Queues: h.Queues()})
	addr := cfg.ConsoleAddr()
	if addr == "" {
		logger.Info("console off", "why", consoleOffReason(cfg))
		return nil
	}
	tokens, err := cfg.Console.ConsoleTokens()
	if err != nil {
		return err
	}
	c, err := console.New(console.Options{Host: h, Queues: h.Queues(), Tokens: tokens, OpenReads: cfg.ConsoleLoopback(), Logger: logger.With("component", "console")})
	if err != nil {
		return err
	}
	x.console = c
	if addr == "health" {
		return nil
	}
	ln, err := health.Listen(addr)
	if err != nil {
		return fmt.Errorf("console.addr %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	c.Routes(mux)
	x.own = health.NewServer(ln, mux, logger)
	logger.Info("console listening", "addr", x.own.Addr().String())
	return nil
}

// serve runs the console's own server, if any, until ctx ends.
func (x *extras) serve(ctx context.Context) func() {
	if x.own == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = x.own.Serve() }()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		x.own.Shutdown(sctx)
		<-done
	}
}

func (x *extras) close() {
	if x.metrics != nil {
		x.metrics.Close()
	}
}

func consoleOffReason(cfg *config.Config) string {
	switch {
	case cfg.Console.Addr == "off":
		return "console.addr is off"
	case cfg.Health.Addr == "off":
		return "health.addr is off (set console.addr to serve it on its own address)"
	}
	return "health.addr is not on loopback: set console.addr (and an operator token) to serve the console"
}
