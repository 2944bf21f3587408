// Command testrole is a role whose behaviour is chosen by its settings, for
// the process-level tests of the host: real binaries, real signals.
//
// Settings (all optional):
//
//	OnStartFail: true    OnStart returns an error
//	OnStopBlock: true    OnStop blocks until the process is killed
//	RunBusy: true        Run marks the instance busy
//	Marker: PATH         OnStart creates PATH (proves OnStart ran)
//	GoJob: true          OnStart adds the Go job "gojob" (jobs.Add): it prints
//	                     "gojob ARGS on INSTANCE"; with the argument block it
//	                     waits for its context, with fail it fails
package main
