package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Off is the address that disables the endpoint.
const Off = "off"

// Listen binds addr for the endpoint. It returns (nil, nil) for Off. The
// error names the address, so a port already in use is obvious.
func Listen(addr string) (net.Listener, error) {
	if addr == Off {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health: listen on %q: %w", addr, err)
	}
	return ln, nil
}

// Server serves a handler on a listener with timeouts that keep slow or
// hostile clients from holding connections open.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// NewServer returns a server for h on ln. logger receives the HTTP server's
// own errors; nil discards them.
func NewServer(ln net.Listener, h http.Handler, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown. It returns nil after Shutdown, otherwise the
// error that stopped it.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health: serve on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests,
// until ctx is done; then it closes what is left and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}
