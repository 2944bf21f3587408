package config

import (
	"strings"
	"testing"
	"time"
)

// The jobs section and its programs: every bad value is refused with the
// file, the line and the key, before anything starts.
func TestJobsSectionBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		key      string
		msg      []string
	}{
		{"unknown key", "jobs:\n  histroy: 5\n", 2, "jobs.histroy", []string{"unknown key", "did you mean history?"}},
		{"zero history", "jobs:\n  history: 0\n", 2, "jobs.history", []string{"at least 1"}},
		{"bad size", "jobs:\n  history_size: lots\n", 2, "jobs.history_size", []string{`invalid size "lots"`, "64MiB"}},
		{"tiny size", "jobs:\n  history_size: 10\n", 2, "jobs.history_size", []string{"at least 1KiB"}},
		{"bare heartbeat", "jobs:\n  heartbeat: 5\n", 2, "jobs.heartbeat", []string{"give a unit"}},
		{"fail_after too short", "jobs:\n  heartbeat: 5s\n  fail_after: 10s\n", 3, "jobs.fail_after", []string{"four heartbeats"}},
		{"bad zone", "jobs:\n  time_zone: Mars/Olympus\n", 2, "jobs.time_zone", []string{"not a time zone"}},
		{"replicas", "jobs:\n  replicas: 7\n", 2, "jobs.replicas", []string{"1 to 5"}},
		{"programs not a list", "jobs:\n  programs: {a: b}\n", 2, "jobs.programs", []string{"must be a list"}},
		{"program not a mapping", "jobs:\n  programs:\n    - x\n", 3, "jobs.programs[0]", []string{"must be a mapping"}},
		{"program without name", "jobs:\n  programs:\n    - command: [x]\n", 3, "jobs.programs[0]", []string{"name is required"}},
		{"program without command", "jobs:\n  programs:\n    - name: a\n", 3, "jobs.programs[0]", []string{"command is required"}},
		{"command as a string", "jobs:\n  programs:\n    - name: a\n      command: run it\n", 4, "jobs.programs[0].command", []string{"must be a list"}},
		{"bad name", "jobs:\n  programs:\n    - name: -a\n      command: [x]\n", 3, "jobs.programs[0].name", []string{"letter or digit"}},
		{"duplicate name", "jobs:\n  programs:\n    - {name: a, command: [x]}\n    - {name: a, command: [y]}\n", 4, "jobs.programs[1]", []string{"already used", "line 3"}},
		{"bad type", "jobs:\n  programs:\n    - name: a\n      type: sometimes\n      command: [x]\n", 4, "jobs.programs[0].type", []string{"not triggered or continuous"}},
		{"bad schedule", "jobs:\n  programs:\n    - name: a\n      command: [x]\n      schedule: \"*/5 * * * *\"\n", 5, "jobs.programs[0].schedule", []string{"6 fields"}},
		{"continuous schedule", "jobs:\n  programs:\n    - name: a\n      type: continuous\n      command: [x]\n      schedule: \"0 * * * * *\"\n", 6, "jobs.programs[0].schedule", []string{"continuous job runs all the time"}},
		{"bad singleton", "jobs:\n  programs:\n    - name: a\n      command: [x]\n      singleton: maybe\n", 5, "jobs.programs[0].singleton", []string{"true or false"}},
		{"bare wait", "jobs:\n  programs:\n    - name: a\n      command: [x]\n      stopping_wait_time: 60\n", 5, "jobs.programs[0].stopping_wait_time", []string{"give a unit"}},
		{"concurrency", "jobs:\n  programs:\n    - name: a\n      command: [x]\n      concurrency: 5000\n", 5, "jobs.programs[0].concurrency", []string{"1 to 1000"}},
		{"unknown program key", "jobs:\n  programs:\n    - name: a\n      command: [x]\n      scheduel: x\n", 5, "jobs.programs[0].scheduel", []string{"did you mean schedule?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.in)
			wantErr(t, err, file, tc.line, tc.key, tc.msg...)
		})
	}
	if _, err := parse(t, "", "CLOUDROLE_JOBS_PROGRAMS=x"); err == nil {
		t.Error("jobs.programs from the environment: no error")
	}
}

// A schedule is read in the section's time zone.
func TestJobsScheduleUsesTimeZone(t *testing.T) {
	c := mustParse(t, "jobs:\n  time_zone: America/New_York\n  programs:\n    - {name: a, command: [x], schedule: \"0 30 2 * * *\"}\n")
	if c.Jobs.TimeZone != "America/New_York" || c.Jobs.Programs[0].Schedule != "0 30 2 * * *" {
		t.Fatalf("%+v", c.Jobs)
	}
}

// A config built in code is checked the same way (Validate).
func TestJobsValidateInCode(t *testing.T) {
	c := mustParse(t, "")
	c.Jobs.Programs = []JobProgram{{Name: "a"}, {Name: "a", Command: []string{"x"}, StoppingWaitTime: -time.Second}}
	c.Jobs.Heartbeat = time.Millisecond
	err := c.Validate()
	for _, want := range []string{"jobs.programs[0].command", "jobs.programs[1]: name \"a\" is used twice", "jobs.programs[1].stopping_wait_time", "jobs.heartbeat"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want %q", err, want)
		}
	}
}
