package jobs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// LoadDir reads a WebJobs-layout jobs folder: dir/continuous/<name>/ and
// dir/triggered/<name>/, each holding its program (see the package doc:
// Job folders) and an optional settings.job. Schedules are read in loc
// (UTC if nil). It returns the jobs it could load and, for each folder it
// could not, a Problem naming the file and key (a missing dir is one).
// Files beside the type folders are ignored.
func LoadDir(dir string, loc *time.Location) ([]Job, []Problem) {
	var jobs []Job
	var problems []Problem
	add := func(path string, err error) {
		var msgs []string
		for _, e := range unjoin(err) {
			msgs = append(msgs, e.Error())
		}
		problems = append(problems, Problem{Path: path, Error: strings.Join(msgs, "\n")})
	}
	top, err := os.ReadDir(dir)
	if err != nil {
		add(dir, fmt.Errorf("%s: jobs folder: %w", dir, errors.Unwrap(err)))
		return nil, problems
	}
	seen := map[string]string{}
	for _, t := range top {
		if !t.IsDir() {
			continue
		}
		kind := Kind(t.Name())
		typeDir := filepath.Join(dir, t.Name())
		if kind != Continuous && kind != Triggered {
			add(typeDir, fmt.Errorf("%s: not a job type folder: jobs live in continuous/<name>/ or triggered/<name>/", typeDir))
			continue
		}
		entries, err := os.ReadDir(typeDir)
		if err != nil {
			add(typeDir, fmt.Errorf("%s: %w", typeDir, errors.Unwrap(err)))
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			path := filepath.Join(typeDir, e.Name())
			j, err := loadFolder(path, kind, loc)
			if err != nil {
				add(path, err)
				continue
			}
			if other, dup := seen[j.Name]; dup {
				add(path, fmt.Errorf("%s: job %q is also %s: a name is one job", path, j.Name, other))
				continue
			}
			seen[j.Name] = path
			jobs = append(jobs, j)
		}
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].Name < jobs[k].Name })
	return jobs, problems
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// loadFolder loads one job folder of the given type.
func loadFolder(path string, kind Kind, loc *time.Location) (Job, error) {
	name := filepath.Base(path)
	if err := ValidName(name); err != nil {
		return Job{}, fmt.Errorf("%s: folder name: %s", path, strings.TrimPrefix(err.Error(), ErrBadJob.Error()+": "))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Job{}, err
	}
	settingsPath := filepath.Join(abs, SettingsFile)
	s, err := readSettings(settingsPath, loc)
	if err != nil {
		return Job{}, err
	}
	cmd, err := entryPoint(abs)
	if err != nil {
		return Job{}, fmt.Errorf("%s: %w", path, err)
	}
	sum, err := fingerprint(abs)
	if err != nil {
		return Job{}, fmt.Errorf("%s: %w", path, err)
	}
	j := Job{Name: name, Kind: kind, Command: cmd, Dir: abs, CopyDir: !s.inPlace, Schedule: s.schedule,
		Location: loc, Singleton: s.singleton, StoppingWait: s.stoppingWait, source: settingsPath, sum: sum, folder: path}
	if _, err := os.Stat(settingsPath); err != nil {
		j.source = abs
	}
	bad := func(key, msg string) error { return &FileError{File: settingsPath, Key: key, Msg: msg} }
	switch s.runMode {
	case "continuous":
		j.Kind = Continuous
	case "scheduled":
		j.Kind = Triggered
		if s.schedule == "" {
			return Job{}, bad("run_mode", `"scheduled" needs a schedule`)
		}
	case "on_demand":
		j.Kind = Triggered
		if s.schedule != "" {
			return Job{}, bad("run_mode", `"on_demand" runs only when started: remove the schedule, or use "scheduled"`)
		}
	}
	if j.Kind == Continuous && s.schedule != "" {
		return Job{}, bad("schedule", "a continuous job runs all the time; put a scheduled job under triggered/")
	}
	if !s.stoppingSet {
		j.StoppingWait = DefaultStoppingWait
	}
	if s.shutdownLimit > 0 {
		j.StoppingWait = min(j.StoppingWait, s.shutdownLimit)
	}
	if j.StoppingWait == 0 {
		j.StoppingWait = time.Millisecond // "stopping_wait_time": 0 kills at once
	}
	if err := j.check(); err != nil {
		return Job{}, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}
