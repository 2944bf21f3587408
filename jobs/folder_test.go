//go:build unix

package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// write creates files under dir: name -> content; a name ending in "*" is
// made executable.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o755
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// WebJobs' entry-point rule: run.* first (in Kudu's order of types), else
// the first supported file of the first type that has one; executables
// without an extension on Unix.
func TestEntryPointRules(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  string // the file the command runs
	}{
		{map[string]string{"a.sh": "", "run.py": "", "b.py": ""}, "run.py"},
		{map[string]string{"job.sh": "", "zeta.py": ""}, "job.sh"},
		{map[string]string{"b.sh": "", "a.sh": ""}, "a.sh"},
		{map[string]string{"run.js": "", "run.sh": ""}, "run.sh"},
		{map[string]string{"tool*": "", "run.sh": ""}, "run.sh"},
		{map[string]string{"tool*": "", "x.sh": ""}, "./tool"},
		{map[string]string{"app.jar": "", "README.md": ""}, "app.jar"},
		{map[string]string{"Run.PS1": ""}, "Run.PS1"},
	} {
		dir := t.TempDir()
		write(t, dir, tc.files)
		cmd, err := entryPoint(dir)
		if err != nil || cmd[len(cmd)-1] != tc.want {
			t.Errorf("%v: %v, %v; want %s", tc.files, cmd, err, tc.want)
		}
	}
	dir := t.TempDir()
	write(t, dir, map[string]string{"run": "#!/bin/sh\n", "notes.txt": ""})
	if _, err := entryPoint(dir); err == nil || !strings.Contains(err.Error(), "run has no extension and is not executable (chmod +x run)") {
		t.Errorf("a non-executable run: %v", err)
	}
	if _, err := entryPoint(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no runnable file") {
		t.Errorf("an empty folder: %v", err)
	}
}

// LoadDir reads job folders with their settings.job; every bad folder is
// a problem naming the file, line and key, and the good ones load.
func TestLoadDirSettingsAndProblems(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"triggered/report/run.sh": "echo report",
		"triggered/report/settings.job": `{
  // WebJobs allows comments
  "schedule": "0 */15 * * * *",
  "is_singleton": true,
  "stopping_wait_time": 60,
  "is_in_place": true
}`,
		"continuous/pump/pump.py":       "print(1)",
		"triggered/bad1/run.sh":         "",
		"triggered/bad1/settings.job":   "{\n  \"schedule\": \"0 */15 * * * *\",\n  \"stoping_wait_time\": 60\n}",
		"triggered/bad2/run.sh":         "",
		"triggered/bad2/settings.job":   "{\n  \"schedule\": \"*/5 * * * *\",\n  \"is_singleton\": \"yes\",\n  \"stopping_wait_time\": -1\n}",
		"triggered/bad3/run.sh":         "",
		"triggered/bad3/settings.job":   "{\n  \"schedule\": \"0 * * * * *\",\n}",
		"triggered/empty/notes.txt":     "",
		"triggered/-bad/run.sh":         "",
		"triggered/pump/run.sh":         "",
		"continuous/sched/run.sh":       "",
		"continuous/sched/settings.job": `{"schedule": "0 * * * * *"}`,
		"scheduled/x/run.sh":            "",
		"README.md":                     "",
	})
	jobs, problems := LoadDir(dir, nil)
	var names []string
	for _, j := range jobs {
		names = append(names, j.Name)
	}
	if !slices.Equal(names, []string{"pump", "report"}) {
		t.Fatalf("loaded %v", names)
	}
	rep := jobs[1]
	if rep.Kind != Triggered || rep.Schedule != "0 */15 * * * *" || !rep.Singleton || rep.StoppingWait != time.Minute || rep.CopyDir ||
		rep.Command[len(rep.Command)-1] != "run.sh" {
		t.Fatalf("report = %+v", rep)
	}
	if p := jobs[0]; p.Kind != Continuous || !p.CopyDir || p.StoppingWait != DefaultStoppingWait || p.Command[len(p.Command)-1] != "pump.py" {
		t.Fatalf("pump = %+v", p)
	}
	got := map[string]string{}
	for _, p := range problems {
		got[filepath.Base(p.Path)] = p.Error
	}
	settingsOf := func(job string) string { return filepath.Join(dir, "triggered", job, SettingsFile) }
	for folder, want := range map[string][]string{
		"bad1":      {settingsOf("bad1") + ":3: stoping_wait_time: unknown key (did you mean stopping_wait_time?)"},
		"bad2":      {settingsOf("bad2") + ":2: schedule: ", "6 fields", settingsOf("bad2") + ":3: is_singleton: must be true or false", ":4: stopping_wait_time: must be a number of seconds"},
		"bad3":      {settingsOf("bad3") + ":3: invalid JSON"},
		"empty":     {"no runnable file"},
		"-bad":      {"folder name: job name \"-bad\": must start with a letter or digit"},
		"sched":     {"schedule: a continuous job runs all the time"},
		"scheduled": {"not a job type folder"},
	} {
		for _, w := range want {
			if !strings.Contains(got[folder], w) {
				t.Errorf("%s: problem %q; want it to hold %q", folder, got[folder], w)
			}
		}
	}
	// triggered/pump is read after continuous/pump: it is the duplicate.
	dup := false
	for _, p := range problems {
		if strings.Contains(p.Error, `job "pump" is also`) && strings.Contains(p.Path, "triggered") {
			dup = true
		}
	}
	if !dup {
		t.Errorf("no problem for the duplicate name: %v", problems)
	}
	if _, problems := LoadDir(filepath.Join(dir, "absent"), nil); len(problems) != 1 || !strings.Contains(problems[0].Error, "no such file") {
		t.Errorf("missing dir: %v", problems)
	}
	var fe *FileError
	if _, err := readSettings(settingsOf("bad1"), nil); !errors.As(err, &fe) || !errors.Is(err, ErrBadJob) || fe.Line != 3 {
		t.Errorf("readSettings error = %#v", err)
	}
}

// run_mode overrides the folder's type, as in WebJobs.
func TestRunMode(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"triggered/c/run.sh":        "",
		"triggered/c/settings.job":  `{"run_mode": "continuous"}`,
		"triggered/s/run.sh":        "",
		"triggered/s/settings.job":  `{"run_mode": "scheduled"}`,
		"continuous/o/run.sh":       "",
		"continuous/o/settings.job": `{"run_mode": "on_demand", "shutdownGraceTimeLimit": 2, "using_sdk": true}`,
		"continuous/x/run.sh":       "",
		"continuous/x/settings.job": `{"run_mode": "sometimes"}`,
	})
	jobs, problems := LoadDir(dir, nil)
	kinds := map[string]Kind{}
	for _, j := range jobs {
		kinds[j.Name] = j.Kind
		if j.Name == "o" && j.StoppingWait != 2*time.Second {
			t.Errorf("shutdownGraceTimeLimit did not cap the stopping wait: %v", j.StoppingWait)
		}
	}
	if kinds["c"] != Continuous || kinds["o"] != Triggered || len(jobs) != 2 {
		t.Fatalf("kinds = %v", kinds)
	}
	if len(problems) != 2 || !strings.Contains(problems[0].Error+problems[1].Error, `"scheduled" needs a schedule`) {
		t.Fatalf("problems = %v", problems)
	}
}

// A runner picks up new, changed and removed job folders live; a broken
// change keeps the last good definition and shows the problem.
func TestLiveFolderPickUp(t *testing.T) {
	p := testServer(t)
	dir := t.TempDir()
	o := fast(p, "a")
	o.Dir, o.ScanInterval = dir, 50*time.Millisecond
	r := startRunner(t, o)
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	output := func(id string) []string {
		wait(t, c, id)
		lines, _ := c.Receive(ctx, id, ReceiveOptions{Keep: true})
		return texts(lines)
	}
	write(t, dir, map[string]string{"triggered/hello/run.sh": "echo v1 $PWD"})
	first := output(start(t, c, "hello"))
	if len(first) != 1 || !strings.HasPrefix(first[0], "v1 ") {
		t.Fatalf("v1 output = %q", first)
	}
	// It ran in a copy of the folder (is_in_place is false by default).
	if strings.Contains(first[0], dir) {
		t.Fatalf("ran in the folder itself: %s", first[0])
	}
	write(t, dir, map[string]string{"triggered/hello/run.sh": "echo v2 $PWD", "triggered/hello/settings.job": `{"is_in_place": true}`})
	eventually(t, "v2", func() bool {
		got := output(start(t, c, "hello"))
		return len(got) == 1 && got[0] == "v2 "+filepath.Join(dir, "triggered", "hello")
	})
	write(t, dir, map[string]string{"triggered/hello/settings.job": `{"is_in_place": maybe}`})
	eventually(t, "the problem shown", func() bool { return len(r.Status().Problems) == 1 })
	if got := output(start(t, c, "hello")); len(got) != 1 || !strings.HasPrefix(got[0], "v2") {
		t.Fatalf("after a broken change: %q; want the last good definition", got)
	}
	if err := os.RemoveAll(filepath.Join(dir, "triggered", "hello")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the job gone", func() bool { return len(r.Status().Jobs) == 0 && len(r.Status().Problems) == 0 })
}

// A continuous job from a folder is restarted with the new program when
// its folder changes; the old run ends Stopped.
func TestLiveFolderContinuousRedefined(t *testing.T) {
	p := testServer(t)
	dir := t.TempDir()
	o := fast(p, "a")
	o.Dir, o.ScanInterval = dir, 50*time.Millisecond
	startRunner(t, o)
	c := testClient(t, p)
	ctx := ctxFor(t, waitLong)
	write(t, dir, map[string]string{"continuous/pump/run.sh": "echo one; while :; do sleep 0.05; done"})
	var firstID string
	eventually(t, "the first run", func() bool {
		runs, _ := c.List(ctx, Filter{Job: "pump", State: Running})
		if len(runs) == 1 && runs[0].Lines == 1 {
			firstID = runs[0].ID
			return true
		}
		return false
	})
	write(t, dir, map[string]string{"continuous/pump/run.sh": "echo two; while :; do sleep 0.05; done"})
	eventually(t, "the new run", func() bool {
		runs, _ := c.List(ctx, Filter{Job: "pump", State: Running})
		if len(runs) != 1 || runs[0].ID == firstID || runs[0].Lines != 1 {
			return false
		}
		lines, _ := c.Receive(ctx, runs[0].ID, ReceiveOptions{Keep: true})
		return len(lines) == 1 && lines[0].Text == "two"
	})
	if old, _ := c.Get(ctx, firstID); old.State != Stopped || !strings.Contains(old.Error, "definition changed") {
		t.Fatalf("old run = %+v", old)
	}
}
