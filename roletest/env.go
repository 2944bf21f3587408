package roletest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/internal/hostctx"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// Options shape an Env. The zero value is a role named "roletest" with no
// settings, a temporary data dir, logs to the test's log, and no queues.
type Options struct {
	// Identity is what Env.Identity returns. Empty fields default to Role
	// "roletest", InstanceID "<Role>_0", Deployment "test" and
	// Incarnation 1.
	Identity role.Identity

	// Settings are the initial settings (copied). A name absent here is a
	// missing setting: Setting returns an error wrapping
	// role.ErrSettingNotFound, as the host does.
	Settings map[string]string

	// DataDir is what Env.DataDir returns; it is created if missing.
	// Defaults to a new t.TempDir, removed when the test ends.
	DataDir string

	// Logger is the instance logger. Defaults to one that writes every
	// level as text to the test's log (t.Output) and keeps it for
	// Env.Logs.
	Logger *slog.Logger

	// Queues, if set, is the queue provider carried by the contexts the
	// hooks and handlers get (Env.Context, and an Instance's), so that a
	// role calling queue.Connect(ctx) works as under the host. Queues(t)
	// returns one on an embedded server. Without it queue.Connect fails
	// with queue.ErrNoProvider. The caller owns it.
	Queues *queue.Provider

	// Jobs, if set, is the job runner carried by the contexts the hooks
	// get, so that a role calling jobs.Add(ctx, ...) works as under the
	// host; an Instance starts it once OnStart returned nil and stops it
	// before OnStop, as the host does. Make one with jobs.NewRunner
	// (Connect: the Queues provider's Client). Without it jobs.Add fails
	// with jobs.ErrNoRunner. The caller owns it.
	Jobs *jobs.Runner

	// StopTimeout is the stop deadline of an Instance (the host's
	// host.stop_timeout): from the moment its stop begins, Run must
	// return and OnStop finish within it, and OnStop's context carries it.
	// Defaults to 10s, shorter than the host's 5 minutes so that a role
	// that ignores its context fails its test quickly.
	StopTimeout time.Duration

	// HandlerTimeout bounds each OnChanging and OnChanged handler call of
	// Env.Change; a Changing handler that overruns it vetoes the change.
	// Defaults to 10s, as host.handler_timeout.
	HandlerTimeout time.Duration
}

// Env is a role.Env for tests: the settings, identity, data dir and logger
// a role reads, a record of the calls it makes (SetBusy, RequestRecycle,
// RequestStop), and Change to fire the handlers it registered. Make one
// with NewEnv. Like the host's, an Env is for one instance: Start runs at
// most one role on it. Its methods are safe for concurrent use.
type Env struct {
	t              testing.TB
	id             role.Identity
	dataDir        string
	logger         *slog.Logger
	sink           *logSink // nil with Options.Logger
	queues         *queue.Provider
	jobs           *jobs.Runner
	host           *hostctx.Host
	stopTimeout    time.Duration
	handlerTimeout time.Duration
	ctx            context.Context // Context's; ends with the test

	handlers sync.WaitGroup // running OnChanging/OnChanged calls

	mu         sync.Mutex
	settings   map[string]string
	busy       bool
	busyCalls  []bool
	recycle    *string // the first RequestRecycle's reason
	stop       *string // the first RequestStop's reason
	onChanging []func(context.Context, []string) error
	onChanged  []func(context.Context, []string)
	inst       *Instance // set by Start
}

var _ role.Env = (*Env)(nil)

// NewEnv returns an Env shaped by o for the test t. It fails the test if
// o.DataDir cannot be created.
func NewEnv(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{
		t:              t,
		id:             o.Identity,
		dataDir:        o.DataDir,
		logger:         o.Logger,
		queues:         o.Queues,
		jobs:           o.Jobs,
		stopTimeout:    o.StopTimeout,
		handlerTimeout: o.HandlerTimeout,
		settings:       make(map[string]string, len(o.Settings)),
	}
	maps.Copy(e.settings, o.Settings)
	if e.id.Role == "" {
		e.id.Role = "roletest"
	}
	if e.id.InstanceID == "" {
		e.id.InstanceID = e.id.Role + "_0"
	}
	if e.id.Deployment == "" {
		e.id.Deployment = "test"
	}
	if e.id.Incarnation == 0 {
		e.id.Incarnation = 1
	}
	if e.dataDir == "" {
		e.dataDir = t.TempDir()
	} else if err := os.MkdirAll(e.dataDir, 0o750); err != nil {
		t.Fatalf("roletest: data dir: %v", err)
	}
	if e.logger == nil {
		e.sink = newLogSink(t)
		e.logger = newTextLogger(e.sink)
	}
	// Tagged as the host tags an instance's logger.
	e.logger = e.logger.With("role", e.id.Role, "instance", e.id.InstanceID, "incarnation", e.id.Incarnation)
	if e.stopTimeout <= 0 {
		e.stopTimeout = 10 * time.Second
	}
	if e.handlerTimeout <= 0 {
		e.handlerTimeout = 10 * time.Second
	}
	e.host = hostctx.New(e.logger, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(fmt.Errorf("%w: the test ended", ErrStopped)) })
	e.ctx = e.withValues(ctx)
	return e
}

// withValues adds what the host's hook contexts carry: the instance logger
// for packages tasks and queue, the queue provider and the job runner.
func (e *Env) withValues(ctx context.Context) context.Context {
	ctx = hostctx.With(ctx, e.host)
	if e.queues != nil {
		ctx = queue.WithProvider(ctx, e.queues)
	}
	if e.jobs != nil {
		ctx = jobs.WithRunner(ctx, e.jobs)
	}
	return ctx
}

// Context returns a context for calling a role's hooks or handlers
// directly, without an Instance: it carries what the host's hook contexts
// carry (the queue provider of Options.Queues, the instance logger for
// packages tasks and queue) and is cancelled, with a cause wrapping
// ErrStopped, when the test ends.
func (e *Env) Context() context.Context { return e.ctx }

// Identity returns Options.Identity with its defaults.
func (e *Env) Identity() role.Identity { return e.id }

// Logger returns the instance logger, tagged with the identity as the
// host's is (role, instance, incarnation).
func (e *Env) Logger() *slog.Logger { return e.logger }

// DataDir returns the data dir; it exists.
func (e *Env) DataDir() string { return e.dataDir }

// Setting returns the current value of a setting, or an error wrapping
// role.ErrSettingNotFound that names a missing one.
func (e *Env) Setting(name string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.settings[name]
	if !ok {
		return "", fmt.Errorf("setting %q: %w", name, role.ErrSettingNotFound)
	}
	return v, nil
}

// SettingNames lists the settings, sorted.
func (e *Env) SettingNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.settings))
	for n := range e.settings {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// OnChanging registers a handler that Change calls before it applies
// changed settings; an error vetoes the change.
func (e *Env) OnChanging(fn func(ctx context.Context, changed []string) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onChanging = append(e.onChanging, fn)
}

// OnChanged registers a handler that Change calls after it applied
// changed settings.
func (e *Env) OnChanged(fn func(ctx context.Context, changed []string)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onChanged = append(e.onChanged, fn)
}
