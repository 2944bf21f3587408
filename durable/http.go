package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/internal/opauth"
	"github.com/cschleiden/go-workflows/diag"
	"github.com/nats-io/nuid"
)

// HTTPOptions configure the HTTP management API (Routes).
type HTTPOptions struct {
	// Prefix is where the API is mounted. Defaults to "/durable".
	Prefix string
	// Hub is the hub to serve, if it is open when the routes are added.
	// Otherwise the API opens one with Options on its first request, on
	// the request's context: on the host's server, that finds the role's
	// NATS connection.
	Hub     *Hub
	Options Options
	// Authorize decides whether a request may start, raise events on,
	// terminate or purge instances: it returns who acts (logged with the
	// action) or why not; an error wrapping ErrUnauthorized is answered
	// 401, any other 403. Nil: on the host's server, the host's operator
	// tokens (the console's console.token and console.token_file, as the
	// jobs API: a token from any address, and no action over HTTP when
	// none is configured); elsewhere LoopbackOnly.
	Authorize func(r *http.Request) (who string, err error)
	// AuthorizeRead decides whether a request may read (status, list, the
	// diagnostics UI), which shows inputs and outputs; an error is
	// answered as for Authorize. Nil: on the host's server, loopback
	// callers and operator tokens; elsewhere every read.
	AuthorizeRead func(r *http.Request) error
	// Logger receives a line per action taken, with who took it.
	// Defaults to the host's logger, or none.
	Logger *slog.Logger
	// MaxBody bounds a request body (an input, an event). Defaults to
	// 1 MiB.
	MaxBody int64
}

// CheckStatus is the answer to a start, shaped like Durable Functions'
// CreateCheckStatusResponse: the instance ID and the URLs that manage it.
type CheckStatus struct {
	ID                    string `json:"id"`
	StatusQueryGetURI     string `json:"statusQueryGetUri"`
	SendEventPostURI      string `json:"sendEventPostUri"`
	TerminatePostURI      string `json:"terminatePostUri"`
	PurgeHistoryDeleteURI string `json:"purgeHistoryDeleteUri"`
}

// Routes adds the management API to mux, under o.Prefix:
//
//	POST   /orchestrators/{name}[/{instanceId}]       start (body: the input, JSON); 202 + CheckStatus
//	GET    /instances/{instanceId}                     status; 200 once ended, 202 while running
//	GET    /instances?runtimeStatus=A,B&top=N&showInput=true&createdTimeFrom=T&createdTimeTo=T
//	POST   /instances/{instanceId}/raiseEvent/{event} raise an event (body: its data, JSON); 202
//	POST   /instances/{instanceId}/terminate?reason=R  terminate; 202
//	DELETE /instances/{instanceId}                     purge; 200
//	GET    /diag/                                      go-workflows' diagnostics UI and its API
//
// Errors are JSON {"error": "..."}: 400 (bad input), 401 or 403 (refused
// by Authorize or AuthorizeRead), 404 (no such instance or orchestrator),
// 409 (already running; purge of a running instance), 410 (not running),
// 413 (too large).
func Routes(mux *http.ServeMux, o HTTPOptions) {
	a := newAPI(o)
	p := a.prefix
	mux.HandleFunc("POST "+p+"/orchestrators/{name}", a.control(a.start))
	mux.HandleFunc("POST "+p+"/orchestrators/{name}/{id}", a.control(a.start))
	mux.HandleFunc("GET "+p+"/instances/{id}", a.read(a.status))
	mux.HandleFunc("GET "+p+"/instances", a.read(a.list))
	mux.HandleFunc("POST "+p+"/instances/{id}/raiseEvent/{event}", a.control(a.raise))
	mux.HandleFunc("POST "+p+"/instances/{id}/terminate", a.control(a.terminate))
	mux.HandleFunc("DELETE "+p+"/instances/{id}", a.control(a.purge))
	mux.HandleFunc("GET "+p+"/diag/", a.read(a.diag))
}

// CheckStatusResponse writes the answer Durable Functions gives to a
// start: 202 Accepted, the status URL in Location, and a CheckStatus. A
// role's own route that starts an orchestration ends with it; prefix is
// where Routes mounted the API ("" for the default).
func CheckStatusResponse(w http.ResponseWriter, r *http.Request, prefix, instanceID string) {
	cs := checkStatus(r, cleanPrefix(prefix), instanceID)
	w.Header().Set("Location", cs.StatusQueryGetURI)
	writeJSON(w, http.StatusAccepted, cs)
}

type api struct {
	o      HTTPOptions
	prefix string
	mu     sync.Mutex
	hub    *Hub
	diagMu sync.Mutex
	diagH  http.Handler
}

func newAPI(o HTTPOptions) *api {
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 20
	}
	return &api{o: o, prefix: cleanPrefix(o.Prefix), hub: o.Hub}
}

func cleanPrefix(p string) string {
	if p == "" {
		return "/durable"
	}
	return "/" + strings.Trim(p, "/")
}

// hubFor returns the hub, opening it on the first request.
func (a *api) hubFor(r *http.Request) (*Hub, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hub != nil {
		return a.hub, nil
	}
	// Opened for the process: not bound to this request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	h, err := Open(ctx, a.o.Options)
	if err != nil {
		return nil, err
	}
	a.hub = h
	return h, nil
}

// LoopbackOnly allows requests whose peer is a loopback address (the
// connection's, never a forwarding header): for a server with no
// credentials to check.
func LoopbackOnly(r *http.Request) (string, error) {
	if opauth.Loopback(r) {
		return "loopback", nil
	}
	return "", fmt.Errorf("durable: %s %s is served to loopback callers only here; use the workflows verb of the role binary, or the Go API", r.Method, r.URL.Path)
}

// errNoTokens refuses an action on a host with no operator token: no
// credential exists that could allow it.
var errNoTokens = errors.New("durable: actions over HTTP need an operator token, and none is configured (console.token or console.token_file); use the workflows verb of the role binary, or the Go API")

// authorize applies Authorize, or else Operator.
func (a *api) authorize(r *http.Request) (string, error) {
	if a.o.Authorize != nil {
		return a.o.Authorize(r)
	}
	return Operator(r)
}

// Operator is the rule the management API's actions follow by default: on
// the host's server, the console's operator token (any address; refused
// when none is configured); elsewhere LoopbackOnly. It returns who acts,
// or an error (wrapping ErrUnauthorized when a token would do).
func Operator(r *http.Request) (who string, err error) {
	hc := hostctx.From(r.Context())
	if hc == nil || hc.Operators == nil {
		return LoopbackOnly(r)
	}
	if !hc.Operators.Configured {
		return "", errNoTokens
	}
	if who := hc.Operators.Who(r); who != "" {
		return who, nil
	}
	return "", ErrUnauthorized
}

// authorizeRead applies AuthorizeRead, or on the host loopback callers
// and operator tokens.
func (a *api) authorizeRead(r *http.Request) error {
	if a.o.AuthorizeRead != nil {
		return a.o.AuthorizeRead(r)
	}
	hc := hostctx.From(r.Context())
	if hc == nil || hc.Operators == nil || opauth.Loopback(r) || hc.Operators.Who(r) != "" {
		return nil
	}
	return fmt.Errorf("%w: reads from other machines need one too", ErrUnauthorized)
}

// RequireOperator guards a role's own route that starts or changes
// orchestrations (a shop's "place an order") with Operator, as the
// management API's actions are guarded: a refusal is answered 401 or 403
// with a JSON error, and each action allowed is logged with who took it.
func RequireOperator(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := Operator(r)
		if err != nil {
			refuse(w, err)
			return
		}
		hostctx.Logger(r.Context(), nil).Info("durable: action", "method", r.Method, "path", r.URL.Path, "by", who)
		next(w, r)
	}
}

// refuse answers a request Authorize or AuthorizeRead refused.
func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrUnauthorized) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeErr(w, http.StatusUnauthorized, err)
		return
	}
	writeErr(w, http.StatusForbidden, err)
}

// control guards the actions that change instances (Authorize) and logs
// each one taken with who took it.
func (a *api) control(next func(http.ResponseWriter, *http.Request, *Hub)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := a.authorize(r)
		if err != nil {
			refuse(w, err)
			return
		}
		h, err := a.hubFor(r)
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, err)
			return
		}
		hostctx.Logger(r.Context(), a.o.Logger).Info("durable: action", "hub", h.Name(), "method", r.Method, "path", r.URL.Path, "by", who)
		next(w, r, h)
	}
}

// read guards the reads (AuthorizeRead).
func (a *api) read(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := a.authorizeRead(r); err != nil {
			refuse(w, err)
			return
		}
		next(w, r)
	}
}

// body reads a JSON body: nil when empty.
func (a *api) body(w http.ResponseWriter, r *http.Request) (json.RawMessage, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.o.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("durable: the body is larger than %d bytes", a.o.MaxBody))
		} else {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("durable: reading the body: %w", err))
		}
		return nil, false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, true
	}
	if !json.Valid(b) {
		writeErr(w, http.StatusBadRequest, errors.New("durable: the body is not valid JSON"))
		return nil, false
	}
	return json.RawMessage(b), true
}

func (a *api) start(w http.ResponseWriter, r *http.Request, h *Hub) {
	id := r.PathValue("id")
	if id == "" {
		id = nuid.Next()
	}
	input, ok := a.body(w, r)
	if !ok {
		return
	}
	var inputs []any
	if input != nil {
		inputs = append(inputs, input)
	}
	if err := h.Start(r.Context(), r.PathValue("name"), StartOptions{InstanceID: id, Queue: r.URL.Query().Get("queue")}, inputs...); err != nil {
		writeErr(w, errStatus(err), err)
		return
	}
	cs := checkStatus(r, a.prefix, id)
	w.Header().Set("Location", cs.StatusQueryGetURI)
	writeJSON(w, http.StatusAccepted, cs)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	h, err := a.hubFor(r)
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err)
		return
	}
	s, err := h.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, errStatus(err), err)
		return
	}
	code := http.StatusOK
	if !s.RuntimeStatus.terminal() {
		// Durable Functions' answer while running: look again later.
		w.Header().Set("Location", checkStatus(r, a.prefix, s.InstanceID).StatusQueryGetURI)
		w.Header().Set("Retry-After", "1")
		code = http.StatusAccepted
	}
	writeJSON(w, code, s)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	h, err := a.hubFor(r)
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err)
		return
	}
	q := r.URL.Query()
	var lo ListOptions
	for _, s := range strings.Split(q.Get("runtimeStatus"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			rs, err := ParseRuntimeStatus(s)
			if err != nil {
				writeErr(w, http.StatusBadRequest, err)
				return
			}
			lo.RuntimeStatus = append(lo.RuntimeStatus, rs)
		}
	}
	for name, t := range map[string]*time.Time{"createdTimeFrom": &lo.CreatedFrom, "createdTimeTo": &lo.CreatedTo} {
		if v := q.Get(name); v != "" {
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				writeErr(w, http.StatusBadRequest, fmt.Errorf("durable: %s %q: want an RFC 3339 time", name, v))
				return
			}
		}
	}
	if v := q.Get("top"); v != "" {
		if lo.Limit, err = strconv.Atoi(v); err != nil || lo.Limit < 0 {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("durable: top %q: want a count", v))
			return
		}
	}
	lo.ShowInput, _ = strconv.ParseBool(q.Get("showInput"))
	list, err := h.List(r.Context(), lo)
	if err != nil {
		writeErr(w, errStatus(err), err)
		return
	}
	if list == nil {
		list = []*Status{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (a *api) raise(w http.ResponseWriter, r *http.Request, h *Hub) {
	data, ok := a.body(w, r)
	if !ok {
		return
	}
	var arg any
	if data != nil {
		arg = data
	}
	if err := h.RaiseEvent(r.Context(), r.PathValue("id"), r.PathValue("event"), arg); err != nil {
		writeErr(w, errStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (a *api) terminate(w http.ResponseWriter, r *http.Request, h *Hub) {
	if err := h.Terminate(r.Context(), r.PathValue("id"), r.URL.Query().Get("reason")); err != nil {
		writeErr(w, errStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (a *api) purge(w http.ResponseWriter, r *http.Request, h *Hub) {
	if err := h.Purge(r.Context(), r.PathValue("id")); err != nil {
		writeErr(w, errStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"instancesDeleted": 1})
}

// diag serves go-workflows' diagnostics UI and its (read-only) API.
func (a *api) diag(w http.ResponseWriter, r *http.Request) {
	h, err := a.hubFor(r)
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err)
		return
	}
	a.diagMu.Lock()
	if a.diagH == nil {
		a.diagH = http.StripPrefix(a.prefix+"/diag", diag.NewServeMux(h.b))
	}
	d := a.diagH
	a.diagMu.Unlock()
	d.ServeHTTP(w, r)
}

func checkStatus(r *http.Request, prefix, id string) CheckStatus {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + prefix + "/instances/" + url.PathEscape(id)
	return CheckStatus{
		ID:                    id,
		StatusQueryGetURI:     base,
		SendEventPostURI:      base + "/raiseEvent/{eventName}",
		TerminatePostURI:      base + "/terminate?reason={text}",
		PurgeHistoryDeleteURI: base,
	}
}

// errStatus maps the package's errors to HTTP statuses.
func errStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnknownOrchestrator):
		return http.StatusNotFound
	case errors.Is(err, ErrAlreadyRunning), errors.Is(err, ErrRunning):
		return http.StatusConflict
	case errors.Is(err, ErrNotRunning):
		return http.StatusGone
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrInvalidOptions), errors.Is(err, ErrInvalidInput):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
