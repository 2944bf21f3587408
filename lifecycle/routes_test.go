package lifecycle

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// routerRole serves POST /orders, which enqueues through the request's
// context: no second port, no client kept in a field.
type routerRole struct {
	testRole
	extra string // a second pattern to register, for the conflict test
}

func (r *routerRole) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, req *http.Request) {
		c, err := queue.Connect(req.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		q, err := c.Queue(req.Context(), "web", queue.Config{})
		if err == nil {
			body, _ := io.ReadAll(req.Body)
			var id string
			if id, err = q.Enqueue(req.Context(), body); err == nil {
				io.WriteString(w, id)
				return
			}
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "shadowed?") })
	if r.extra != "" {
		mux.HandleFunc(r.extra, func(http.ResponseWriter, *http.Request) {})
	}
}

var _ role.Router = (*routerRole)(nil)

// A role's routes and Options.Routes are served on the health server; the
// probe's paths stay the host's; a handler reaches the queues.
func TestRoutesOnTheHealthServer(t *testing.T) {
	r := &routerRole{}
	hs := startHost(t, r, testConfig(t), func(o *Options) {
		o.Routes = func(mux *http.ServeMux) {
			mux.HandleFunc("GET /lib", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "library page") })
		}
	})
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.expect("/readyz", 200, "ok")
	hs.expect("/lib", 200, "library page")
	resp, err := http.Post(hs.base+"/orders", "text/plain", strings.NewReader("order 1"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(id) == 0 {
		t.Fatalf("POST /orders = %d %q", resp.StatusCode, id)
	}
	hs.expect("/nowhere", 404, "")
}

// Two registrations of one pattern stop the host before anything starts,
// naming who registered it.
func TestConflictingRoutesRefused(t *testing.T) {
	r := &routerRole{extra: "GET /lib"}
	cfg := testConfig(t)
	h, err := New(r, cfg, Options{Routes: func(mux *http.ServeMux) {
		mux.HandleFunc("GET /lib", func(http.ResponseWriter, *http.Request) {})
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the role's Routes") || !strings.Contains(err.Error(), "/lib") {
		t.Fatalf("Run = %v; want an error naming the role's routes and the pattern", err)
	}
	if errors.Is(err, ErrAlreadyRun) || r.count("OnStart") != 0 {
		t.Fatal("the role started despite the conflict")
	}
}
