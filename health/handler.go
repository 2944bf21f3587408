package health

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Probe is what the endpoint asks. The host implements it. Methods are
// called concurrently from request goroutines.
type Probe interface {
	// Live returns nil while the host is responsive. ctx bounds the check.
	Live(ctx context.Context) error
	// Ready reports whether the instance should receive work, and why not.
	Ready() (ready bool, reason string)
	// Status returns a JSON-marshallable snapshot.
	Status() any
}

// LiveTimeout bounds a liveness check: a host that cannot answer within it is
// reported as not live.
const LiveTimeout = 2 * time.Second

// Owns reports whether path is one of the endpoint's own: /livez,
// /healthz, /readyz and /status. A server that serves other handlers
// beside the endpoint (the host's routes) sends these to it first.
func Owns(path string) bool {
	switch path {
	case "/livez", "/healthz", "/readyz", "/status":
		return true
	}
	return false
}

// NewHandler returns the endpoint's handler for p.
func NewHandler(p Probe) http.Handler {
	mux := http.NewServeMux()
	live := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), LiveTimeout)
		defer cancel()
		if err := p.Live(ctx); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not live: "+err.Error())
			return
		}
		writeText(w, http.StatusOK, "ok")
	}
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ok, reason := p.Ready(); !ok {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+reason)
			return
		}
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		body, err := json.MarshalIndent(p.Status(), "", "  ")
		if err != nil {
			writeText(w, http.StatusInternalServerError, "status: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.Write(append(body, '\n'))
	})
	return mux
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write([]byte(msg + "\n"))
}
