package hostctx

import (
	"context"
	"log/slog"
	"net/http"
)

// Host is the host's side of a role instance, as seen by library packages.
type Host struct {
	// Logger is the instance logger; never nil in a Host made by New.
	Logger *slog.Logger
	// Status collects status sections for /status; never nil in a Host
	// made by New.
	Status *Registry
	// Operators recognises the host's operators on HTTP requests to its
	// server; nil where no host serves the request.
	Operators *Operators
}

// Operators is the host's check of operator credentials (the console's
// tokens: console.token, console.token_file), so that a library's routes
// on the host's server ask for the same credentials as the console and
// the jobs API.
type Operators struct {
	// Configured says whether any operator token is configured: with
	// none, no HTTP request can be an operator's.
	Configured bool
	// Who returns the name of the operator token r carries, or "".
	Who func(r *http.Request) string
}

// New returns a Host with the given logger (discarding if nil) and registry
// (a new one if nil).
func New(logger *slog.Logger, reg *Registry) *Host {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = NewRegistry()
	}
	return &Host{Logger: logger, Status: reg}
}

type key struct{}

// With returns a copy of ctx carrying h.
func With(ctx context.Context, h *Host) context.Context {
	return context.WithValue(ctx, key{}, h)
}

// From returns the Host carried by ctx, or nil.
func From(ctx context.Context) *Host {
	h, _ := ctx.Value(key{}).(*Host)
	return h
}

// Logger returns the logger carried by ctx, or fallback if ctx carries none,
// or a discarding logger if fallback is nil too.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if fallback != nil {
		return fallback
	}
	if h := From(ctx); h != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}
