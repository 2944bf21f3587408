// Package role is the API a cloudrole user implements: a long-running worker
// role with three hooks, mirroring Azure's RoleEntryPoint.
//
//	OnStart(ctx, env) error // initialise; the instance is ready only after it returns nil
//	Run(ctx, env) error     // the work; when it returns, for any reason, the role recycles
//	OnStop(ctx, env) error  // clean up; ctx carries the stop deadline
//
// Embed [Default] to get RoleEntryPoint's defaults and override only the hooks
// you need. The host (package lifecycle, started by cloudrole.Main) calls the
// hooks in order on one instance at a time and never concurrently:
// OnStart, then Run, then OnStop — OnStop also runs after a failed OnStart so
// nothing leaks into the next instance. A panic in a hook is recovered by the
// host and treated as an error returned by that hook.
//
// Each instance gets an [Env]: its identity, its settings (a missing setting
// is an error, never a silent empty string), a logger, the busy switch that
// takes it out of the load balancer without stopping it, and RequestRecycle.
// An Env is valid for one instance; handlers registered on it are dropped when
// the instance stops.
//
// This package imports only the standard library, so code that implements a
// role depends on nothing else. Package roletest
// (github.com/cloudrole/cloudrole/roletest) tests a role without a host: an
// Env whose settings a test sets and changes live, a record of SetBusy,
// RequestRecycle and RequestStop, and a runner that calls the hooks in the
// host's order and reports what they did.
package role
