package role

import (
	"context"
	"log/slog"
)

// Env is what the host gives one role instance. The host implements it (and
// package roletest provides one for tests); users do not. All methods are safe
// for concurrent use.
type Env interface {
	// Identity names this instance.
	Identity() Identity

	// Setting returns the current value of a named setting. A setting that
	// is not configured returns an error that wraps ErrSettingNotFound and
	// names the setting. Values reflect live reloads: after a change is
	// accepted, Setting returns the new value.
	Setting(name string) (string, error)

	// SettingNames lists the configured setting names, sorted.
	SettingNames() []string

	// Logger returns the instance's logger, tagged with its identity.
	Logger() *slog.Logger

	// DataDir is a directory the role may use for durable local state. It
	// exists and survives recycles and restarts of the process.
	DataDir() string

	// SetBusy marks the instance busy (true) or not (false). While busy the
	// readiness probe answers 503 "busy", so load balancers stop sending
	// work, but the role keeps running (Azure's StatusCheck SetBusy).
	SetBusy(busy bool)

	// RequestRecycle asks the host to recycle this instance: readiness turns
	// unhealthy, Run's context is cancelled, OnStop runs and a new instance
	// starts. The reason is recorded in the recycle history. It returns at
	// once; calling it more than once keeps the first reason.
	RequestRecycle(reason string)

	// RequestStop asks the host to stop the whole process gracefully, as
	// SIGTERM does: readiness turns unhealthy, Run's context is cancelled
	// (its cause names the reason), OnStop runs, and the process exits with
	// code 0 unless the stop deadline passes. Use it for a role whose work
	// is finished (a batch run, a demo's -exit-when-done); returning from
	// Run recycles instead. It returns at once; later calls keep the first
	// reason.
	RequestStop(reason string)

	// OnChanging registers a handler called before changed settings are
	// applied, with the names of the settings that changed. Returning a
	// non-nil error vetoes the live change: the instance recycles and the
	// next instance sees the new values (Azure's RoleEnvironment.Changing
	// with Cancel = true). A handler that panics or does not return within
	// the host's handler timeout counts as a veto.
	OnChanging(func(ctx context.Context, changed []string) error)

	// OnChanged registers a handler called after changed settings were
	// applied live; Setting already returns the new values.
	OnChanged(func(ctx context.Context, changed []string))
}

// Identity names a role instance. The host also passes it to startup tasks
// as the environment variables CLOUDROLE_ROLE, CLOUDROLE_INSTANCE_ID,
// CLOUDROLE_DEPLOYMENT and CLOUDROLE_INCARNATION.
type Identity struct {
	// Role is the role's name, e.g. "orders-worker".
	Role string `json:"role"`
	// InstanceID names this process among the role's instances, e.g.
	// "orders-worker_IN_0". It stays the same across in-process recycles.
	InstanceID string `json:"instance_id"`
	// Deployment names the deployment or environment, e.g. "production".
	Deployment string `json:"deployment"`
	// Incarnation counts the instances this process has started: 1 for the
	// first, incremented by every in-process recycle.
	Incarnation int `json:"incarnation"`
}
