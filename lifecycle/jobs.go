package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudrole/cloudrole/internal/opauth"
	"github.com/cloudrole/cloudrole/jobs"
)

// phaseJobsStop is the phase of a stop in which the instance's job runs
// are stopped (before OnStop).
const phaseJobsStop = "stopping jobs"

// newJobRunner makes the instance's job runner from the jobs section of
// the config the instance started with: the config's programs and jobs
// folder, and the Go jobs role code adds through the hook context
// (jobs.Add). It connects to NATS only once it has a job.
func (h *Host) newJobRunner(i *instance) (*jobs.Runner, error) {
	c := i.cfg.Jobs
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("jobs.time_zone: %w", err)
	}
	var defs []jobs.Job
	for _, p := range c.Programs {
		defs = append(defs, jobs.Job{
			Name: p.Name, Kind: jobs.Kind(p.Type), Command: p.Command, Dir: p.Dir, Env: p.Env,
			Schedule: p.Schedule, Location: loc, Singleton: p.Singleton,
			StoppingWait: p.StoppingWaitTime, Concurrency: p.Concurrency,
		})
	}
	return jobs.NewRunner(jobs.Options{
		Connect:      h.queues.Client,
		Instance:     i.cfg.Role.InstanceID,
		Logger:       i.logger,
		Clock:        h.opts.Clock,
		Jobs:         defs,
		Dir:          c.Dir,
		Location:     loc,
		ScanInterval: c.ScanInterval,
		DataDir:      i.cfg.Role.DataDir,
		Env:          i.identityEnv(),
		History:      c.History,
		HistoryBytes: c.HistorySize,
		MaxQueued:    c.MaxQueued,
		Heartbeat:    c.Heartbeat,
		FailAfter:    c.FailAfter,
		Replicas:     c.Replicas,
	})
}

// startJobs starts the instance's job runner, once OnStart returned nil,
// and shows it in /status.
func (h *Host) startJobs(i *instance) {
	if i.jobs == nil {
		return
	}
	// Not bound to the instance's context: stopInstance stops it, before
	// OnStop, so its runs end with their own reason (the instance
	// stopping) and within the stop deadline.
	if err := i.jobs.Start(context.WithoutCancel(i.hookCtx)); err != nil {
		i.logger.Error("jobs: the runner did not start", "error", err.Error())
		return
	}
	_, i.unlistJobs = h.status.Add("jobs", func() any { return i.jobs.Status() })
}

// stopJobs stops the instance's job runs the WebJobs way within ctx (the
// stop deadline) and waits for them.
func (h *Host) stopJobs(ctx context.Context, i *instance) {
	if i.jobs == nil {
		return
	}
	h.setHook(phaseJobsStop)
	if err := i.jobs.Stop(ctx); err != nil {
		i.logger.Error("jobs: runs still running at the stop deadline", "error", err.Error())
	}
	if i.unlistJobs != nil {
		i.unlistJobs()
	}
}

// errNoNATS answers a jobs request before the role has connected to its
// embedded NATS server: the request must not start the server.
var errNoNATS = errors.New("this role has not connected to NATS (it defines no jobs, or has not started them yet)")

// jobsRoutes mounts the jobs API (jobs.Routes) on the health server.
// Control actions need an operator token (console.token, console.token_file:
// the console's, read at start as the console reads them), from any address; reads are open to
// loopback peers and to a token, since run output may hold what a job
// printed.
func (h *Host) jobsRoutes(mux *http.ServeMux) {
	jobs.Routes(mux, jobs.HandlerOptions{
		Connect: func(ctx context.Context) (*jobs.Client, error) {
			if st := h.queues.Status(); st.Mode == "embedded" && st.State == "unused" {
				return nil, errNoNATS
			}
			qc, err := h.queues.Client(ctx)
			if err != nil {
				return nil, err
			}
			// NoCreate: a request must not create the jobs store (a role
			// with no jobs keeps its NATS free of it); a runner does.
			return jobs.NewClient(ctx, qc, jobs.ClientOptions{Replicas: h.config().Jobs.Replicas, NoCreate: true})
		},
		Authorize: func(r *http.Request) (string, error) {
			if len(h.tokens) == 0 {
				return "", errNoTokens
			}
			if who := opauth.Who(h.tokens, r); who != "" {
				return who, nil
			}
			return "", jobs.ErrUnauthorized
		},
		AuthorizeRead: func(r *http.Request) error {
			if opauth.Loopback(r) || opauth.Who(h.tokens, r) != "" {
				return nil
			}
			return fmt.Errorf("%w: reads from other machines need one too", jobs.ErrUnauthorized)
		},
		Logger: h.opts.Logger,
	})
}

// errNoTokens refuses a control action when no operator token is
// configured: no credential exists that could allow it.
var errNoTokens = errors.New("jobs: control actions over HTTP need an operator token, and none is configured (console.token or console.token_file); use the jobs verb of the role binary, or the Go client")
