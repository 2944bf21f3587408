// Package hostctx carries what the role host shares with the packages a role
// uses inside its hooks (tasks, queue) without those packages importing the
// host: the instance logger and the status registry that feeds /status.
//
// The host stores a *Host in the context it passes to OnStart, Run and OnStop.
// A package that finds one reports into it; one that finds none (a test, a
// program without a host) works the same and reports nowhere.
package hostctx
