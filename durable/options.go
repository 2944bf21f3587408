package durable

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configure a Hub. The zero value is usable: the "default" hub on
// the role's NATS connection, one queue, 32 orchestration tasks and 32
// activities at a time.
type Options struct {
	// Hub names the task hub: the JetStream stream DURABLE_<Hub> that
	// holds its orchestrations, and what processes share to work on them.
	// Letters, digits, '_' and '-'. Defaults to "default".
	Hub string
	// Replicas of the hub's stream: 3 on a cluster to survive the loss of
	// a server. Defaults to 1. A stream that exists keeps its replicas.
	Replicas int
	// Queues are the orchestration and activity queues Work takes tasks
	// from (an orchestrator or activity on another queue is left to the
	// workers that serve it). Defaults to the one queue "default".
	Queues []string
	// MaxOrchestrations and MaxActivities bound the orchestrator and
	// activity tasks Work runs at once: it takes a task only when it has
	// room for it, so the backlog waits in the stream (load leveling).
	// Default to 32 each.
	MaxOrchestrations, MaxActivities int
	// OrchestratorLease and ActivityLease are how long a task is held
	// by the worker that took it without a heartbeat; a worker that dies
	// leaves its tasks to another after that. Work heartbeats at a third
	// of them. Default to 1 minute and 2 minutes (go-workflows' lock
	// timeouts).
	OrchestratorLease, ActivityLease time.Duration
	// DrainTimeout is how long Work waits, once its context ends, for the
	// tasks it runs to finish; what is still running then is left to its
	// lease (another worker takes it after). Defaults to 30 seconds.
	DrainTimeout time.Duration
	// KeepContinuedAsNew keeps the history of executions that ended with
	// ContinueAsNew. By default it is removed when the next execution
	// starts, as Durable Functions truncates it, so an eternal
	// orchestration's history stays bounded.
	KeepContinuedAsNew bool
	// ExecutorCache is how many orchestration instances a worker keeps
	// in memory between their tasks (a task of one not kept replays its
	// history). At least MaxOrchestrations: an instance pushed out is
	// closed, and one whose task runs must not be. Defaults to 512.
	ExecutorCache int
	// Logger receives the hub's and go-workflows' log lines. Defaults to
	// the host's instance logger (from the context Open is given), or
	// none.
	Logger *slog.Logger
	// Conn is the NATS connection to use. Defaults to the role's
	// (queue.Connect with the context Open is given); a program without a
	// host (a tool, a benchmark) passes its own. The hub never closes it.
	// With the role's connection a history write counts as stored once the
	// embedded server's group commit has it on disk (sync "always"); with
	// a connection of its own the hub relies on the server's
	// acknowledgement, so that server's sync policy decides.
	Conn *nats.Conn
	// NoCreate opens the hub only if its stream exists, as it is: Open
	// fails with ErrNoHub otherwise, creating nothing. For readers (the
	// console, a listing) that must leave no stream behind on a NATS where
	// no role ever had this hub. Such a hub is for client calls: do not
	// call Work on it.
	NoCreate bool

	// wait is how long one pull request for tasks waits on the server
	// (tests shorten it so that a closing backend does not wait).
	wait time.Duration
}

var validHub = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// withDefaults validates o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Hub == "" {
		o.Hub = "default"
	}
	if !validHub.MatchString(o.Hub) {
		return o, fmt.Errorf("%w: Hub %q: want 1 to 64 of A-Z a-z 0-9 _ -", ErrInvalidOptions, o.Hub)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < 0 || o.Replicas > 5 {
		return o, fmt.Errorf("%w: Replicas %d: want 1 to 5", ErrInvalidOptions, o.Replicas)
	}
	if len(o.Queues) == 0 {
		o.Queues = []string{"default"}
	}
	for _, q := range o.Queues {
		if q == "" {
			return o, fmt.Errorf("%w: an empty queue name in Queues", ErrInvalidOptions)
		}
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"MaxOrchestrations", &o.MaxOrchestrations}, {"MaxActivities", &o.MaxActivities}, {"ExecutorCache", &o.ExecutorCache}} {
		switch {
		case *f.v == 0 && f.name == "ExecutorCache":
			*f.v = 512
		case *f.v == 0:
			*f.v = 32
		case *f.v < 0:
			return o, fmt.Errorf("%w: %s %d: want a positive number", ErrInvalidOptions, f.name, *f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"OrchestratorLease", &o.OrchestratorLease, time.Minute},
		{"ActivityLease", &o.ActivityLease, 2 * time.Minute},
		{"DrainTimeout", &o.DrainTimeout, 30 * time.Second},
	} {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v < 0:
			return o, fmt.Errorf("%w: %s %v: want a positive duration", ErrInvalidOptions, f.name, *f.v)
		case f.name != "DrainTimeout" && *f.v < 300*time.Millisecond:
			return o, fmt.Errorf("%w: %s %v: want at least 300ms (the worker heartbeats at a third of it)", ErrInvalidOptions, f.name, *f.v)
		}
	}
	if o.ExecutorCache < o.MaxOrchestrations {
		return o, fmt.Errorf("%w: ExecutorCache %d is less than MaxOrchestrations %d: a running instance could be pushed out and closed", ErrInvalidOptions, o.ExecutorCache, o.MaxOrchestrations)
	}
	if o.wait == 0 {
		o.wait = 2 * time.Second
	}
	return o, nil
}
