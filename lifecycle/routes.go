package lifecycle

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cloudrole/cloudrole/health"
	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/internal/opauth"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// handler is what the health server serves: the probe endpoint, the jobs
// API (/jobs/...), and the routes of Options.Routes and of a role that
// implements role.Router. The probe's paths go to the probe first, so no
// route can shadow readiness; every other request goes to the routes, with
// a context that carries the queue provider (queue.Connect works in a
// handler) and the host's logger.
func (h *Host) handler() (http.Handler, error) {
	probe := health.NewHandler(probe{h})
	router, isRouter := h.role.(role.Router)
	mux := http.NewServeMux()
	if err := register(mux, "the jobs API", h.jobsRoutes); err != nil {
		return nil, err
	}
	if err := register(mux, "Options.Routes", h.opts.Routes); err != nil {
		return nil, err
	}
	if isRouter {
		if err := register(mux, "the role's Routes", router.Routes); err != nil {
			return nil, err
		}
	}
	hc := hostctx.New(h.opts.Logger, h.status)
	// Routes that act on the role (durable's management API) check the
	// operator tokens the jobs API and the console check.
	hc.Operators = &hostctx.Operators{Configured: len(h.tokens) > 0, Who: func(r *http.Request) string { return opauth.Who(h.tokens, r) }}
	base := queue.WithProvider(hostctx.With(context.Background(), hc), h.queues)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if health.Owns(r.URL.Path) {
			probe.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r.WithContext(mergeValues(r.Context(), base)))
	}), nil
}

// register calls add on mux, turning ServeMux's panic on a conflicting or
// malformed pattern into an error that names who registered it.
func register(mux *http.ServeMux, who string, add func(*http.ServeMux)) (err error) {
	if add == nil {
		return nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("lifecycle: %s: %v", who, v)
		}
	}()
	add(mux)
	return nil
}

// values is a request context that also finds the values of base (the
// provider, the host), while keeping the request's cancellation.
type values struct {
	context.Context
	base context.Context
}

func (v values) Value(key any) any {
	if x := v.Context.Value(key); x != nil {
		return x
	}
	return v.base.Value(key)
}

func mergeValues(req, base context.Context) context.Context { return values{req, base} }
