package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/startup"
)

// instance is one role instance and the role.Env it sees.
type instance struct {
	h       *Host
	cfg     *config.Config // the config the instance started with
	id      role.Identity
	logger  *slog.Logger
	ctx     context.Context
	cancel  context.CancelCauseFunc
	hookCtx context.Context

	settings atomic.Pointer[map[string]string]
	busy     atomic.Bool
	finished atomic.Bool
	startup  atomic.Pointer[startup.Run]
	handlers sync.WaitGroup // running Changing/Changed handler calls

	jobs       *jobs.Runner // nil if it could not be made (jobsErr)
	jobsErr    error
	unlistJobs func() // removes the jobs section from /status

	mu         sync.Mutex
	onChanging []func(context.Context, []string) error
	onChanged  []func(context.Context, []string)
}

var _ role.Env = (*instance)(nil)

func newInstance(h *Host, parent context.Context, cfg *config.Config, inc int) *instance {
	i := &instance{
		h:   h,
		cfg: cfg,
		id: role.Identity{
			Role:        cfg.Role.Name,
			InstanceID:  cfg.Role.InstanceID,
			Deployment:  cfg.Role.Deployment,
			Incarnation: inc,
		},
	}
	i.logger = h.opts.Logger.With("role", i.id.Role, "instance", i.id.InstanceID, "incarnation", inc)
	i.ctx, i.cancel = context.WithCancelCause(parent)
	i.jobs, i.jobsErr = h.newJobRunner(i)
	i.hookCtx = h.hostCtx(i)
	settings := cfg.Settings
	i.settings.Store(&settings)
	return i
}

// cause is why the instance's context was cancelled, or nil.
func (i *instance) cause() error {
	if i.ctx.Err() == nil {
		return nil
	}
	return context.Cause(i.ctx)
}

// identityEnv is the role identity as environment variables for startup
// tasks.
func (i *instance) identityEnv() []string {
	return []string{
		"CLOUDROLE_ROLE=" + i.id.Role,
		"CLOUDROLE_INSTANCE_ID=" + i.id.InstanceID,
		"CLOUDROLE_DEPLOYMENT=" + i.id.Deployment,
		"CLOUDROLE_INCARNATION=" + strconv.Itoa(i.id.Incarnation),
		"CLOUDROLE_DATA_DIR=" + i.cfg.Role.DataDir,
	}
}

func (i *instance) Identity() role.Identity { return i.id }
func (i *instance) Logger() *slog.Logger    { return i.logger }
func (i *instance) DataDir() string         { return i.cfg.Role.DataDir }

func (i *instance) Setting(name string) (string, error) {
	v, ok := (*i.settings.Load())[name]
	if !ok {
		return "", fmt.Errorf("setting %q: %w", name, role.ErrSettingNotFound)
	}
	return v, nil
}

func (i *instance) SettingNames() []string {
	m := *i.settings.Load()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (i *instance) SetBusy(busy bool) {
	if i.busy.Swap(busy) != busy {
		i.logger.Info("busy", "busy", busy)
	}
}

func (i *instance) RequestRecycle(reason string) {
	if i.finished.Load() {
		return
	}
	i.logger.Info("recycle requested", "reason", reason)
	i.h.beginInstanceStop(i, &RecycleError{Reason: "recycle requested: " + reason})
}

func (i *instance) RequestStop(reason string) {
	i.logger.Info("stop requested", "reason", reason)
	i.h.Stop(errors.New("stop requested by the role: " + reason))
}

func (i *instance) OnChanging(fn func(context.Context, []string) error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.onChanging = append(i.onChanging, fn)
}

func (i *instance) OnChanged(fn func(context.Context, []string)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.onChanged = append(i.onChanged, fn)
}

func (i *instance) setSettings(m map[string]string) { i.settings.Store(&m) }

// changing runs the Changing handlers in registration order and returns the
// first veto. A handler that panics or overruns the handler timeout vetoes.
func (i *instance) changing(timeout time.Duration, changed []string) error {
	i.mu.Lock()
	fns := slices.Clone(i.onChanging)
	i.mu.Unlock()
	for _, fn := range fns {
		if err := i.callHandler("Changing", timeout, func(ctx context.Context) error { return fn(ctx, changed) }); err != nil {
			return err
		}
	}
	return nil
}

// changedHandlers runs the Changed handlers; failures are logged.
func (i *instance) changedHandlers(timeout time.Duration, changed []string) {
	i.mu.Lock()
	fns := slices.Clone(i.onChanged)
	i.mu.Unlock()
	for _, fn := range fns {
		err := i.callHandler("Changed", timeout, func(ctx context.Context) error { fn(ctx, changed); return nil })
		if err != nil {
			i.logger.Error("Changed handler failed", "error", err.Error())
		}
	}
}

// callHandler runs fn on its own goroutine so a handler that hangs cannot
// stall the host's control loop. The instance's stop waits for the
// goroutine (within the stop deadline), so none outlives its instance.
func (i *instance) callHandler(kind string, timeout time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(i.hookCtx, timeout)
	defer cancel()
	done := make(chan error, 1)
	i.handlers.Add(1)
	go func() {
		defer i.handlers.Done()
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("%s handler panicked: %v", kind, v)
			}
		}()
		done <- fn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s handler did not return within %s", kind, timeout)
	}
}
