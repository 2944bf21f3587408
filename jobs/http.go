package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/internal/opauth"
)

// HandlerOptions configure Routes.
type HandlerOptions struct {
	// Connect returns the Client requests use; it is called on the first
	// request that needs one and again after an error. Required.
	Connect func(ctx context.Context) (*Client, error)
	// Authorize decides whether a request may take a control action
	// (start, stop, receive): it returns who acts, for the log of
	// actions, or why not. An error wrapping ErrUnauthorized is answered
	// 401 (present a credential), any other 403. Defaults to
	// LoopbackOnly. The host gives operator tokens (console.token).
	Authorize func(r *http.Request) (who string, err error)
	// AuthorizeRead decides whether a request may read definitions, runs
	// and output; an error is answered as for Authorize. Nil: every read
	// is allowed.
	AuthorizeRead func(r *http.Request) error
	// Logger receives a line per control action taken, with who took it.
	// Defaults to discarding.
	Logger *slog.Logger
}

// ErrUnauthorized is wrapped by an Authorize that wants a credential the
// request did not carry.
var ErrUnauthorized = errors.New("jobs: this action needs an operator token (Authorization: Bearer <console.token>)")

// LoopbackOnly allows requests whose peer is a loopback address, for a
// mux with no credentials to check (an operator with a shell on the
// machine, a local proxy that does its own authentication). It reads the
// connection's address, never a forwarding header.
func LoopbackOnly(r *http.Request) (string, error) {
	if opauth.Loopback(r) {
		return "loopback", nil
	}
	return "", errors.New("jobs: control actions over HTTP are accepted from loopback addresses only here; use the jobs verb of the role binary, or the Go client")
}

// Routes adds the jobs API to mux, under /jobs:
//
//	GET  /jobs                              the definitions of the running instances' jobs
//	GET  /jobs/{job}/runs                   its runs, newest first (?state=Failed&limit=10)
//	POST /jobs/{job}/runs                   start a run: 202, Location: the run's URL (arguments:
//	                                        a JSON body {"args": [...]} or ?arg=...&arg=...)
//	GET  /jobs/{job}/runs/{id}              the run (JSON)
//	GET  /jobs/{job}/runs/{id}/output       its output as text, one "time LEVEL text" line per
//	                                        line (?follow=true: a live stream until the run ends;
//	                                        ?format=ndjson: one JSON Line per line)
//	POST /jobs/{job}/runs/{id}/receive      the output not yet received (hands it over, as
//	                                        Receive; ?keep=true hands nothing over)
//	POST /jobs/{job}/runs/{id}/stop         ask the run to stop: 202 with the run
//
// Errors are JSON {"error": "..."} with 400 (bad arguments or ID), 401 or
// 403 (refused by Authorize or AuthorizeRead), 404 (unknown job or run), 409
// (a singleton already queued or running), 429 (too many runs queued) or
// 503 (NATS not reachable).
func Routes(mux *http.ServeMux, opts HandlerOptions) {
	h := &handler{opts: opts}
	if h.opts.Authorize == nil {
		h.opts.Authorize = LoopbackOnly
	}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.New(slog.DiscardHandler)
	}
	mux.HandleFunc("GET /jobs", h.read(h.definitions))
	mux.HandleFunc("GET /jobs/{$}", h.read(h.definitions))
	mux.HandleFunc("GET /jobs/{job}/runs", h.read(h.list))
	mux.HandleFunc("POST /jobs/{job}/runs", h.control(h.start))
	mux.HandleFunc("GET /jobs/{job}/runs/{id}", h.read(h.get))
	mux.HandleFunc("GET /jobs/{job}/runs/{id}/output", h.read(h.output))
	mux.HandleFunc("POST /jobs/{job}/runs/{id}/receive", h.control(h.receive))
	mux.HandleFunc("POST /jobs/{job}/runs/{id}/stop", h.control(h.stop))
}

type handler struct {
	opts HandlerOptions

	mu     sync.Mutex
	cached *Client
}

func (h *handler) c(ctx context.Context) (*Client, error) {
	h.mu.Lock()
	c := h.cached
	h.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := h.opts.Connect(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.cached = c
	h.mu.Unlock()
	return c, nil
}

// control wraps a control action: refused unless Authorize says yes,
// and logged with who took it.
func (h *handler) control(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := h.opts.Authorize(r)
		if err != nil {
			h.opts.Logger.Warn("jobs: action refused", "action", r.Method+" "+r.URL.Path, "remote", r.RemoteAddr, "why", err.Error())
			refuse(w, err)
			return
		}
		h.opts.Logger.Info("jobs: action", "action", r.Method+" "+r.URL.Path, "by", who, "remote", r.RemoteAddr)
		fn(w, r)
	}
}

// read wraps a read: refused unless AuthorizeRead (if set) says yes.
func (h *handler) read(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.opts.AuthorizeRead != nil {
			if err := h.opts.AuthorizeRead(r); err != nil {
				refuse(w, err)
				return
			}
		}
		fn(w, r)
	}
}

func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrUnauthorized) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cloudrole"`)
		writeError(w, http.StatusUnauthorized, err)
		return
	}
	writeError(w, http.StatusForbidden, err)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// status is the HTTP status of an error of the client.
func status(err error) int {
	switch {
	case errors.Is(err, ErrBadArgs), errors.Is(err, ErrBadRunID), errors.Is(err, ErrNotTriggered), errors.Is(err, ErrBadJob):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownJob), errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrAlreadyRunning):
		return http.StatusConflict
	case errors.Is(err, ErrTooManyQueued):
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

func (h *handler) client(w http.ResponseWriter, r *http.Request) *Client {
	c, err := h.c(r.Context())
	switch {
	case errors.Is(err, ErrNoStore):
		// A client opened with NoCreate, before any job existed: every
		// job and run is unknown.
		writeError(w, http.StatusNotFound, err)
		return nil
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("jobs: not connected to NATS: %w", err))
		return nil
	}
	return c
}

func (h *handler) definitions(w http.ResponseWriter, r *http.Request) {
	if _, err := h.c(r.Context()); errors.Is(err, ErrNoStore) {
		writeJSON(w, http.StatusOK, map[string]any{"jobs": []Definition{}})
		return
	}
	c := h.client(w, r)
	if c == nil {
		return
	}
	defs, err := c.Jobs(r.Context())
	if err != nil {
		writeError(w, status(err), err)
		return
	}
	if defs == nil {
		defs = []Definition{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": defs})
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	c := h.client(w, r)
	if c == nil {
		return
	}
	f := Filter{Job: r.PathValue("job"), State: State(r.URL.Query().Get("state"))}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("jobs: limit %q: want a number", l))
			return
		}
		f.Limit = n
	}
	if f.State != "" && !f.State.valid() {
		writeError(w, http.StatusBadRequest, fmt.Errorf("jobs: unknown state %q", f.State))
		return
	}
	runs, err := c.List(r.Context(), f)
	if err != nil {
		writeError(w, status(err), err)
		return
	}
	if runs == nil {
		runs = []Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// maxBody caps a start request's body.
const maxBody = MaxArgsBytes + 4096

func (h *handler) start(w http.ResponseWriter, r *http.Request) {
	c := h.client(w, r)
	if c == nil {
		return
	}
	args := r.URL.Query()["arg"]
	if r.ContentLength != 0 {
		var body struct {
			Args []string `json:"args"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("%w: the body must be JSON {\"args\": [\"...\"]}: %v", ErrBadArgs, err))
			return
		}
		args = append(args, body.Args...)
	}
	job := r.PathValue("job")
	id, err := c.Start(r.Context(), job, StartOptions{Args: args, Trigger: TriggerAPI})
	if err != nil {
		writeError(w, status(err), err)
		return
	}
	url := "/jobs/" + job + "/runs/" + id
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "url": url})
}

// runID is the request's run ID, checked to belong to its job.
func runID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if err := CheckRunID(id); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return "", false
	}
	if jobOf(id) != r.PathValue("job") {
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: %s is not a run of job %s", ErrNotFound, id, r.PathValue("job")))
		return "", false
	}
	return id, true
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	c := h.client(w, r)
	if c == nil {
		return
	}
	run, err := c.Get(r.Context(), id)
	if err != nil {
		writeError(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (h *handler) stop(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	c := h.client(w, r)
	if c == nil {
		return
	}
	run, err := c.Stop(r.Context(), id)
	if err != nil {
		writeError(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusAccepted, run)
}

// httpLines writes lines to an HTTP response as text or NDJSON.
type httpLines struct {
	w      http.ResponseWriter
	ndjson bool
	enc    *json.Encoder
	flush  bool
}

func newHTTPLines(w http.ResponseWriter, r *http.Request, flush bool) *httpLines {
	l := &httpLines{w: w, flush: flush, ndjson: r.URL.Query().Get("format") == "ndjson"}
	if l.ndjson {
		w.Header().Set("Content-Type", "application/x-ndjson")
		l.enc = json.NewEncoder(w)
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	return l
}

func (l *httpLines) line(ln Line) error {
	var err error
	if l.ndjson {
		err = l.enc.Encode(ln)
	} else {
		_, err = fmt.Fprintln(l.w, FormatLine(ln))
	}
	if l.flush {
		if f, ok := l.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	return err
}

// FormatLine renders a line as "time LEVEL text", the text form of output
// over HTTP and on the command line.
func FormatLine(l Line) string {
	return l.Time.UTC().Format("2006-01-02T15:04:05.000Z") + " " + fmt.Sprintf("%-5s", l.Level()) + " " + l.Text
}

func (h *handler) output(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	c := h.client(w, r)
	if c == nil {
		return
	}
	follow, _ := strconv.ParseBool(r.URL.Query().Get("follow"))
	if _, err := c.Get(r.Context(), id); err != nil {
		writeError(w, status(err), err)
		return
	}
	out := newHTTPLines(w, r, follow)
	w.WriteHeader(http.StatusOK)
	if follow {
		// A live stream lasts as long as the run: lift the server's
		// write timeout for it.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		_, _ = c.Follow(r.Context(), id, out.line)
		return
	}
	_ = c.ReceiveFunc(r.Context(), id, ReceiveOptions{Keep: true}, out.line)
}

func (h *handler) receive(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	c := h.client(w, r)
	if c == nil {
		return
	}
	keep, _ := strconv.ParseBool(r.URL.Query().Get("keep"))
	// Collected first, so an error is still a proper response; a
	// receive returns what is stored, bounded by the job's history size.
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	lines, err := c.Receive(ctx, id, ReceiveOptions{Keep: keep})
	if err != nil {
		writeError(w, status(err), err)
		return
	}
	out := newHTTPLines(w, r, false)
	w.WriteHeader(http.StatusOK)
	for _, l := range lines {
		if out.line(l) != nil {
			return
		}
	}
}
