package console

import (
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
)

//go:embed assets
var assets embed.FS

// Host is what the console asks of the host it runs in.
type Host interface {
	// Status is the host's snapshot.
	Status() lifecycle.Status
	// Freeze and Unfreeze are the operator's freeze.
	Freeze(reason string)
	Unfreeze()
}

// Options configure a Console.
type Options struct {
	// Host is the host serving the console. Required.
	Host Host
	// Queues is the host's queue provider: the fleet, the queues, the
	// jobs, the orchestrations and the schedules are read through it, once
	// the role has connected. May be nil.
	Queues *queue.Provider
	// Tokens may act (and, off loopback, read). No tokens: every action
	// is refused.
	Tokens []config.Token
	// OpenReads lets anyone who reaches the console read it (no token);
	// set it when the console listens on loopback only.
	OpenReads bool
	// Logger receives the log of actions. Defaults to discarding.
	Logger *slog.Logger
	// Refresh is how often a page open in a browser is updated. Defaults
	// to 2s.
	Refresh time.Duration
}

// Console serves the console's pages and actions. Safe for concurrent use.
type Console struct {
	o     Options
	key   []byte // signs session cookies; new for each process
	pages *template.Template
	rates *rates

	qmu    sync.Mutex
	queues map[string]*queue.Queue // opened once (see open)

	jmu  sync.Mutex
	jc   *jobs.Client  // opened once the jobs store exists (see jobsClient)
	jcOn *queue.Client // the connection it was opened on

	hc hubClients // the orchestration hubs, opened as they are read
}

// New returns a console. It starts nothing: mount it with Routes.
func New(o Options) (*Console, error) {
	if o.Host == nil {
		return nil, errors.New("console: nil Host")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	for _, t := range o.Tokens {
		if len(t.Secret) < config.MinTokenLen {
			return nil, errors.New("console: token " + t.Name + " is too short")
		}
	}
	c := &Console{o: o, key: make([]byte, 32), rates: newRates(), queues: map[string]*queue.Queue{}}
	if _, err := rand.Read(c.key); err != nil {
		return nil, err
	}
	t, err := template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, err
	}
	c.pages = t
	return c, nil
}

// Routes mounts the console under /console/ on mux (a lifecycle routes
// seam, or a server of its own).
func (c *Console) Routes(mux *http.ServeMux) {
	mux.Handle("GET /console/{$}", c.read(c.fleetPage))
	mux.Handle("GET /console/instance/{role}/{instance}", c.read(c.instancePage))
	mux.Handle("GET /console/queues", c.read(c.queuesPage))
	mux.Handle("GET /console/queues/{name}", c.read(c.queuePage))
	mux.Handle("GET /console/jobs", c.read(c.jobsPage))
	mux.Handle("GET /console/jobs/{job}", c.read(c.jobPage))
	mux.Handle("GET /console/jobs/{job}/runs/{id}", c.read(c.runPage))
	mux.Handle("GET /console/jobs/{job}/runs/{id}/output", c.read(c.runOutput))
	mux.Handle("GET /console/orchestrations", c.read(c.orchestrationsPage))
	mux.Handle("GET /console/orchestrations/{hub}/{id}", c.read(c.orchestrationPage))
	mux.Handle("GET /console/schedules", c.read(c.schedulesPage))
	mux.Handle("GET /console/events", c.read(c.events))
	mux.HandleFunc("GET /console/login", c.loginPage)
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))

	// Actions: cross-origin requests refused first, then the token.
	cop := http.NewCrossOriginProtection()
	act := func(h func(w http.ResponseWriter, r *http.Request, who string)) http.Handler {
		return cop.Handler(c.auth(h))
	}
	mux.Handle("POST /console/login", cop.Handler(http.HandlerFunc(c.login)))
	mux.Handle("POST /console/logout", cop.Handler(http.HandlerFunc(c.logout)))
	mux.Handle("POST /console/queues/{name}/requeue", act(c.requeue))
	mux.Handle("POST /console/queues/{name}/purge", act(c.purge))
	mux.Handle("POST /console/jobs/{job}/run", act(c.runJob))
	mux.Handle("POST /console/jobs/{job}/runs/{id}/stop", act(c.stopRun))
	mux.Handle("POST /console/orchestrations/{hub}/{id}/raise", act(c.raiseEvent))
	mux.Handle("POST /console/orchestrations/{hub}/{id}/terminate", act(c.terminate))
	mux.Handle("POST /console/orchestrations/{hub}/{id}/purge", act(c.purgeInstance))
	mux.Handle("POST /console/queues/{name}/schedules/{schedule}/remove", act(c.removeSchedule))
	mux.Handle("POST /console/freeze", act(c.freeze))
	mux.Handle("POST /console/unfreeze", act(c.unfreeze))
}
