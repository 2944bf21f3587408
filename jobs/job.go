package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
)

// DefaultStoppingWait is how long a run gets to end after it was asked to
// stop before it is killed (a program) or abandoned (a Go job), as
// WebJobs' default stopping_wait_time.
const DefaultStoppingWait = 5 * time.Second

// Job defines a job: a Go function, or an external program. Every
// instance that should be able to run it defines it the same way (in
// code, the config or the jobs folder).
type Job struct {
	// Name follows WebJobs' rule (see ValidName). Required.
	Name string
	// Kind is Triggered (the default) or Continuous.
	Kind Kind

	// Func is a Go job. Exactly one of Func and Command is set.
	Func Func
	// Command is an external program and its first arguments; a run's
	// arguments follow them. No shell is involved unless it names one.
	// A relative program path is resolved against Dir.
	Command []string
	// Dir is a program's folder: its working directory (or the folder
	// copied, with CopyDir) and WEBJOBS_PATH. Defaults to the host's
	// working directory.
	Dir string
	// CopyDir runs the program in a copy of Dir made for the job (made
	// again when Dir's files change), as WebJobs does unless is_in_place
	// is true, so the folder can be replaced while a run is under way.
	CopyDir bool
	// Env adds variables to a program's environment.
	Env map[string]string

	// Schedule triggers the job by a 6-field NCRONTAB spec with seconds
	// ("0 */15 * * * *"), as WebJobs' settings.job: one run per fire time
	// across the fleet, never overlapping itself. Triggered jobs only.
	Schedule string
	// Location is the schedule's time zone. Defaults to UTC.
	Location *time.Location
	// Singleton runs a continuous job on one instance of the fleet, and
	// lets a triggered job have one run at a time (a start while one is
	// queued or running fails with ErrAlreadyRunning). A scheduled job is
	// always singleton.
	Singleton bool
	// StoppingWait is how long a run gets to end once asked to stop:
	// then a program's process group is killed, and a Go job that has
	// not returned is abandoned. Never more than the host's stop deadline
	// allows. Defaults to DefaultStoppingWait (5s).
	StoppingWait time.Duration
	// Concurrency is how many runs of a triggered job one instance runs
	// at once. Defaults to 1.
	Concurrency int

	// source says where the definition came from: "go", "config" or the
	// settings file of a jobs folder.
	source string
	// sum fingerprints a folder job's files, to notice changes.
	sum string
	// folder is a folder job's folder, as LoadDir named it.
	folder string
}

// Func is a Go job: it runs once per run, with the run's arguments and
// writers for its output. Returning nil completes the run; an error or a
// panic fails it. ctx is cancelled (with a cause: ErrStopRequested,
// ErrRunnerStopped, ErrJobChanged, or a lost singleton lease) when the run
// must stop; a run stopped that way ends Stopped whatever Func returns,
// and one that does not return within the job's StoppingWait is
// abandoned, its goroutine left running (and reported in the log).
type Func func(ctx context.Context, inv *Invocation) error

// Invocation is what a Go job gets for one run.
type Invocation struct {
	// RunID and Job identify the run; Instance runs it.
	RunID, Job, Instance string
	// Args are the run's arguments.
	Args []string
	// Trigger says how the run was started.
	Trigger Trigger
	// Stdout and Stderr store what is written to them as output lines
	// (stdout at INFO, stderr at ERROR), each with the time it was
	// written, as a program's output is. A line ends at '\n'; the rest is
	// stored when the run ends. Safe for concurrent use.
	Stdout, Stderr io.Writer
	// Logger is the host's logger with the job and run attached.
	Logger *slog.Logger
}

// Printf writes one line to Stdout.
func (inv *Invocation) Printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = io.WriteString(inv.Stdout, s)
}

// IsProgram reports whether j is an external program.
func (j *Job) IsProgram() bool { return j.Func == nil }

// singleton reports whether runs of j must not overlap across the fleet.
func (j *Job) singleton() bool { return j.Singleton || j.Schedule != "" }

// check validates j and fills its defaults. Errors wrap ErrBadJob and name
// the job and the field.
func (j *Job) check() error {
	if err := ValidName(j.Name); err != nil {
		return err
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: job %q: %s: %s", ErrBadJob, j.Name, field, fmt.Sprintf(format, args...))
	}
	switch j.Kind {
	case "":
		j.Kind = Triggered
	case Triggered, Continuous:
	default:
		return bad("Kind", "%q is not triggered or continuous", string(j.Kind))
	}
	switch {
	case j.Func == nil && len(j.Command) == 0:
		return bad("Func", "set Func (a Go job) or Command (a program)")
	case j.Func != nil && len(j.Command) > 0:
		return bad("Command", "set either Func or Command, not both")
	case j.Func == nil && j.Command[0] == "":
		return bad("Command", "the program name is empty")
	}
	for _, w := range j.Command {
		if strings.IndexByte(w, 0) >= 0 {
			return bad("Command", "a word holds a NUL byte")
		}
	}
	if j.Schedule != "" {
		if j.Kind == Continuous {
			return bad("Schedule", "a continuous job runs all the time; only triggered jobs have a schedule")
		}
		if _, err := tasks.ParseCron(j.Schedule, j.Location); err != nil {
			return bad("Schedule", "%s", cronError(err))
		}
	}
	if j.StoppingWait < 0 {
		return bad("StoppingWait", "%v is negative", j.StoppingWait)
	}
	if j.StoppingWait == 0 {
		j.StoppingWait = DefaultStoppingWait
	}
	switch {
	case j.Concurrency < 0 || j.Concurrency > 1000:
		return bad("Concurrency", "%d: want 1 to 1000", j.Concurrency)
	case j.Concurrency == 0:
		j.Concurrency = 1
	case j.Concurrency > 1 && j.Kind == Continuous:
		return bad("Concurrency", "a continuous job runs once per instance")
	}
	for k := range j.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return bad("Env", "variable name %q: must be non-empty, without '=' or NUL", k)
		}
	}
	if j.source == "" {
		j.source = "go"
		if j.IsProgram() {
			j.source = "code"
		}
	}
	return nil
}

// schedule returns j's parsed schedule, or nil.
func (j *Job) schedule() *tasks.CronSchedule {
	if j.Schedule == "" {
		return nil
	}
	s, _ := tasks.ParseCron(j.Schedule, j.Location) // checked by check
	return s
}
