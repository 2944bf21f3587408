package startup

import "time"

// Kind says how a startup task runs, as in Azure's taskType.
type Kind string

const (
	// Simple tasks run one at a time in declared order; the next starts
	// only after the previous exited 0. A non-zero exit or a timeout fails
	// the instance start.
	Simple Kind = "simple"
	// Background tasks start asynchronously and are stopped, with their
	// whole process group, when the instance stops.
	Background Kind = "background"
	// Foreground tasks start asynchronously; the instance does not finish
	// stopping until they exit (bounded by the stop deadline, then killed).
	Foreground Kind = "foreground"
)

// Task declares one startup task.
type Task struct {
	// Name tags the task's log lines and status entry. Required, unique.
	Name string
	// Kind is Simple, Background or Foreground. Required.
	Kind Kind
	// Command is the program and its arguments. No shell is involved unless
	// the command names one (e.g. ["sh", "-c", "..."]). Required.
	Command []string
	// Dir is the working directory. Defaults to the host's.
	Dir string
	// Env adds variables to the task's environment, on top of the host's
	// environment and the role identity variables.
	Env map[string]string
	// Timeout bounds a Simple task's run; 0 means no limit. Ignored for
	// other kinds.
	Timeout time.Duration
}
