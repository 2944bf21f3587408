package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole/startup"
)

// runProgram runs an external program to its end, the way startup tasks
// run (its own process group, stdout and stderr read line by line). When
// ctx is cancelled it is stopped the WebJobs way: its shutdown file
// (WEBJOBS_SHUTDOWN_FILE) is created, its process group gets SIGTERM, and
// after the job's stopping wait (capped by the stop deadline) SIGKILL. It
// returns the exit code of a program that exited by itself.
func (x *execution) runProgram(ctx context.Context) (*int, error) {
	x.mu.Lock()
	rec := x.rec.Run
	x.mu.Unlock()
	dir, release, err := x.r.workDir(x.job)
	if err != nil {
		return nil, err
	}
	defer release()
	path, err := programPath(x.job.Command[0], dir)
	if err != nil {
		return nil, err
	}
	shutdown := filepath.Join(x.r.o.DataDir, "jobs", "shutdown", rec.ID)
	if err := os.MkdirAll(filepath.Dir(shutdown), 0o750); err != nil {
		return nil, fmt.Errorf("shutdown file folder: %w", err)
	}
	defer os.Remove(shutdown)
	data := x.r.dataPath(x.job)
	if err := os.MkdirAll(data, 0o750); err != nil {
		return nil, fmt.Errorf("WEBJOBS_DATA_PATH %s: %w", data, err)
	}
	args := append(append([]string(nil), x.job.Command[1:]...), rec.Trigger.Args...)
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = x.environ(rec, dir, data, shutdown)
	startup.InOwnGroup(cmd)
	// A grandchild that keeps the output pipes open must not keep the run
	// from ending once the program itself exited.
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", x.job.Command[0], startError(err))
	}
	var lines sync.WaitGroup
	lines.Add(2)
	go func() { defer lines.Done(); x.out.readLines(stdout, Stdout) }()
	go func() { defer lines.Done(); x.out.readLines(stderr, Stderr) }()
	done := make(chan error, 1)
	go func() {
		lines.Wait() // Wait closes the pipes: read them to the end first
		done <- cmd.Wait()
	}()
	var werr error
	select {
	case werr = <-done:
		startup.KillGroup(cmd) // what it left behind in its group
		return exitCode(werr)
	case <-ctx.Done():
	}
	// Stop the WebJobs way: the shutdown file, SIGTERM, then SIGKILL.
	grace := x.grace()
	if f, err := os.Create(shutdown); err == nil {
		f.Close()
	}
	startup.TerminateGroup(cmd)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case werr = <-done:
		startup.KillGroup(cmd)
		code, _ := exitCode(werr) // a code if it exited, none if SIGTERM ended it
		return code, nil
	case <-t.C:
	}
	startup.KillGroup(cmd)
	<-done
	return nil, fmt.Errorf("killed: still running %v after the shutdown file and SIGTERM (stopping_wait_time)", grace.Round(time.Millisecond))
}

// programPath resolves a program: a path with a separator against the
// working directory, a bare name through PATH.
func programPath(prog, dir string) (string, error) {
	if strings.ContainsAny(prog, `/\`) {
		if !filepath.IsAbs(prog) && dir != "" {
			prog = filepath.Join(dir, prog)
		}
		if _, err := os.Stat(prog); err != nil {
			return "", fmt.Errorf("program %s: %w", prog, errors.Unwrap(err))
		}
		return prog, nil
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		return "", fmt.Errorf("program %q not found in PATH", prog)
	}
	return p, nil
}

// startError says why a program could not start in a user's words.
func startError(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (is it executable? chmod +x)", err)
	}
	return err
}

// exitCode is the exit code of a program that exited by itself; a program
// ended by a signal has none.
func exitCode(err error) (*int, error) {
	if err == nil {
		code := 0
		return &code, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.Exited() {
			code := ee.ExitCode()
			return &code, nil
		}
		return nil, fmt.Errorf("ended by a signal: %w", err)
	}
	return nil, err
}

// environ is a program's environment: the host's, the role identity, the
// job's own variables, then the job and run, under cloudrole's names and
// WebJobs' (which a job's Env cannot override).
func (x *execution) environ(rec Run, dir, data, shutdown string) []string {
	env := append(os.Environ(), x.r.o.Env...)
	for _, k := range sortedKeys(x.job.Env) {
		env = append(env, k+"="+x.job.Env[k])
	}
	jobPath := x.job.Dir
	if jobPath == "" {
		jobPath = dir
	}
	return append(env,
		"CLOUDROLE_JOB_NAME="+rec.Job,
		"CLOUDROLE_JOB_RUN_ID="+rec.ID,
		"CLOUDROLE_JOB_TRIGGER="+string(rec.Trigger.Type),
		"WEBJOBS_NAME="+rec.Job,
		"WEBJOBS_TYPE="+string(x.job.Kind),
		"WEBJOBS_RUN_ID="+rec.ID,
		"WEBJOBS_PATH="+jobPath,
		"WEBJOBS_DATA_PATH="+data,
		"WEBJOBS_SHUTDOWN_FILE="+shutdown,
		"WEBJOBS_COMMAND_ARGUMENTS="+strings.Join(rec.Trigger.Args, " "),
	)
}

// dataPath is the job's WEBJOBS_DATA_PATH: DataDir/jobs/<type>/<name>, as
// Kudu's data/jobs/<type>/<name>. It lives as long as the data dir.
func (r *Runner) dataPath(j Job) string {
	return filepath.Join(r.o.DataDir, "jobs", string(j.Kind), j.Name)
}
