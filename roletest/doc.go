// Package roletest tests a role without a process: no host, no config file,
// no health port. It is the test kit of package role, as rivertest is
// River's; only tests import it.
//
//	env := roletest.NewEnv(t, roletest.Options{Settings: map[string]string{"Greeting": "hi"}})
//	inst := roletest.Start(env, &worker{})
//	if err := inst.WaitStarted(ctx); err != nil { // OnStart's error
//		t.Fatal(err)
//	}
//	// ... exercise the role; env.Change(ctx, ...) to change a setting live ...
//	res := inst.Stop(nil) // cancels Run's context, waits for Run and OnStop
//	if res.Run != nil || res.OnStop != nil || res.Stuck != "" {
//		t.Fatalf("%+v", res)
//	}
//
// It has three parts:
//
//   - Env, a role.Env for tests: settings you set (Set, Unset) and change
//     live (Change fires the role's OnChanging and OnChanged handlers and
//     reports a veto), an identity, a DataDir in t.TempDir, a logger that
//     writes to the test's log and keeps the text (Logs), and a record of SetBusy,
//     RequestRecycle and RequestStop (Busy, BusyCalls, RecycleRequested,
//     StopRequested). Env.Context is the context for calling a hook
//     directly.
//   - Start and Run, which run a role's hooks in-process as the host does and
//     report what happened in a Result: OnStart's error, whether Run was
//     called and what it returned, a recovered panic, why the instance
//     stopped, OnStop's error, and which hook overran the stop deadline.
//   - Queues, a real embedded NATS server for the test, for roles and
//     handlers that need a queue. A handler alone needs no server: call it
//     with a job from queue.NewJob.
//
// # What roletest promises, and where it differs from the host
//
// These hold as under the host (package lifecycle): the hooks run in order
// on one goroutine, never concurrently; Run is called only after OnStart
// returned nil; OnStop runs after every OnStart that was called, even a
// failed one, with a context that is not cancelled but carries the stop
// deadline; a panic in a hook is recovered, logged with its stack and
// returned as a *PanicError. The hooks' context is cancelled with a cause
// when the stop begins: on a stop (Instance.Stop, the context given to Run,
// the role's RequestStop) the cause wraps ErrStopped; on what the host
// would answer with an in-process recycle (RequestRecycle, a vetoed
// settings change, Run returning by itself, a failed OnStart) it wraps
// ErrRecycled, and it names the reason as the host's does. A missing
// setting wraps role.ErrSettingNotFound. The hook contexts carry the queue
// provider (Options.Queues), so queue.Connect(ctx) works, and the instance
// logger, so packages tasks and queue log to the test. Settings change
// handlers are called on their own goroutines with a timeout, and a Changing
// handler that fails, panics or overruns vetoes the change.
//
// These differ: the causes are roletest's own sentinels, not
// lifecycle.ErrStopping and *lifecycle.RecycleError, because importing the
// host would put its config parser, health server and service code into
// every role's test binary for two error values (Instance.Stop wraps any
// cause it is given, so a role that checks for the host's can be tested
// with lifecycle.ErrStopping passed in). An Instance runs no startup tasks,
// serves no probes, never freezes and never starts the next instance: it
// ends where the host would recycle, and Result.Cause says which. The stop
// deadline defaults to 10 seconds instead of 5 minutes, so that a role that
// ignores its context fails its test at once. A hook still running at the
// deadline fails the test (the host would force the exit) and is left
// running, as the process would have been killed.
//
// # Why the queue kit is here
//
// Queues lives in roletest rather than in a separate queuetest package:
// Options.Queues already ties the Env to package queue, a role's tests
// that use a queue need both, and the host that a role links into its
// binary brings the NATS server anyway, so a second kit would only be a
// second import. Queues trades durability for speed (interval sync), which
// is right for a store that is thrown away after the test and wrong for
// anything else, so it takes a testing.TB.
package roletest
