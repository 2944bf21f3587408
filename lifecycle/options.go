package lifecycle

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/jonboulle/clockwork"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/queue"
)

// Options tune a Host beyond its config. The zero value is what a program
// wants; tests override the fields that reach the outside world.
type Options struct {
	// Logger receives the host's and the role's logs. Defaults to a
	// discarding logger (cloudrole.Main passes one built from log.*).
	Logger *slog.Logger

	// Clock drives crash-loop backoff, the healthy period and the config
	// reload interval. Defaults to the real clock. The stop deadline always
	// runs on real time because it bounds real contexts.
	Clock clockwork.Clock

	// Signals, if set, replaces the process's SIGINT/SIGTERM/SIGHUP
	// subscription, so tests deliver signals without touching the process.
	Signals <-chan os.Signal

	// Exit is called with the exit code on a forced exit (stop deadline
	// passed, second signal). Defaults to os.Exit. If it returns, Run
	// returns a *ForcedExitError without waiting for the stuck hook.
	Exit func(code int)

	// Stacks receives the goroutine dump on a forced exit, as text.
	// Defaults to os.Stderr. Unused with LogStacks.
	Stacks io.Writer

	// LogStacks puts the goroutine dump into the "forced exit" log record
	// (its stacks attribute) instead of writing it to Stacks: for
	// structured logs, where every line must be a record. cloudrole.Main
	// sets it for log.format json.
	LogStacks bool

	// HealthListener, if set, is used instead of listening on
	// health.addr. The host closes it.
	HealthListener net.Listener

	// Parse parses the config file's new content on a live reload.
	// Defaults to config.Parse with ConfigOptions.
	Parse func(file string, data []byte) (*config.Config, error)

	// Events, if set, receives the host's events (state changes, recycles,
	// config reloads) synchronously and in order, from the host's own
	// goroutines: it must return quickly. It may call the Host's methods.
	Events func(Event)

	// ConfigOptions are passed to config.Parse by the default Parse.
	ConfigOptions config.Options

	// Routes, if set, adds HTTP handlers to the health server, beside the
	// probe's paths (which stay the host's): a library package's pages or
	// metrics, mounted by the program. It is called once, before the server
	// starts; a role can add its own by implementing role.Router. Handlers
	// get requests whose context carries the queue provider.
	Routes func(mux *http.ServeMux)

	// Queues, if set, is the queue provider roles reach with
	// queue.Connect; the caller owns it and closes it. Defaults to one built
	// from the config's nats section, which the host closes after the last
	// OnStop. It lives for the whole process: an in-process recycle keeps
	// the connection and the embedded server.
	Queues *queue.Provider
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Exit == nil {
		o.Exit = os.Exit
	}
	if o.Stacks == nil {
		o.Stacks = os.Stderr
	}
	if o.Parse == nil {
		copts := o.ConfigOptions
		if copts.Environ == nil {
			copts.Environ = os.Environ()
		}
		o.Parse = func(file string, data []byte) (*config.Config, error) {
			return config.Parse(file, data, copts)
		}
	}
}
