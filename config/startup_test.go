package config

import (
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/startup"
)

// Startup task problems name the task's index (and its name, when it has
// one) and the line.
func TestStartupTaskErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		key      string
		msg      []string
	}{
		{"missing command", "startup:\n  - name: a\n    type: simple\n", 2, "startup[0]", []string{`task "a"`, "command is required"}},
		{"empty command", "startup:\n  - {name: a, type: simple, command: []}\n", 2, "startup[0]", []string{"command is required"}},
		{"command as string", "startup:\n  - name: a\n    type: simple\n    command: ./run.sh --fast\n", 4, "startup[0].command", []string{`task "a"`, "must be a list", `"./run.sh --fast"`}},
		{"empty program", "startup:\n  - {name: a, type: simple, command: ['', x]}\n", 2, "startup[0].command", []string{"program name is empty"}},
		{"null word", "startup:\n  - {name: a, type: simple, command: [x, ~]}\n", 2, "startup[0].command", []string{"every word"}},
		{"list word", "startup:\n  - {name: a, type: simple, command: [x, [y]]}\n", 2, "startup[0].command", []string{"every word"}},
		{"bad type", "startup:\n  - {name: a, command: [x]}\n  - name: b\n    type: Daemon\n    command: [x]\n", 4, "startup[1].type", []string{`task "b"`, `unknown type "Daemon"`, "simple, background or foreground"}},
		{"missing type", "startup:\n  - {name: a, command: [x]}\n", 2, "startup[0]", []string{"type is required"}},
		{"missing name", "startup:\n  - {type: simple, command: [x]}\n", 2, "startup[0]", []string{"name is required"}},
		{"duplicate name", "startup:\n  - {name: a, type: simple, command: [x]}\n  - {name: a, type: simple, command: [y]}\n", 3, "startup[1]", []string{"already used", "line 2"}},
		{"bad timeout", "startup:\n  - name: mig\n    type: simple\n    command: [x]\n    timeout: forever\n", 5, "startup[0].timeout", []string{`task "mig"`, "invalid duration"}},
		{"bare timeout", "startup:\n  - {name: a, type: simple, command: [x], timeout: 30}\n", 2, "startup[0].timeout", []string{"give a unit"}},
		{"negative timeout", "startup:\n  - {name: a, type: simple, command: [x], timeout: -1m}\n", 2, "startup[0].timeout", []string{"negative"}},
		{"unknown key", "startup:\n  - {name: a, type: simple, command: [x], cmd: [y]}\n", 2, "startup[0].cmd", []string{"unknown key"}},
		{"not a list", "startup:\n  name: a\n", 2, "startup", []string{"must be a list"}},
		{"item not a mapping", "startup:\n  - run\n", 2, "startup[0]", []string{"must be a mapping"}},
		{"env not a mapping", "startup:\n  - {name: a, type: simple, command: [x], env: [A]}\n", 2, "startup[0].env", []string{"mapping"}},
		{"name a list", "startup:\n  - {name: [a], type: simple, command: [x]}\n", 2, "startup[0].name", []string{"must be a string, not a list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.in)
			wantErr(t, err, file, tc.line, tc.key, tc.msg...)
		})
	}
}

func TestStartupTasksKeepOrder(t *testing.T) {
	c := mustParse(t, `startup:
  - {name: z, type: simple, command: [a], timeout: 1s}
  - {name: y, type: background, command: [b]}
  - {name: x, type: foreground, command: [c], dir: /abs}
`)
	if len(c.Startup) != 3 || c.Startup[0].Name != "z" || c.Startup[1].Kind != startup.Background ||
		c.Startup[2].Dir != "/abs" || c.Startup[0].Timeout != time.Second {
		t.Fatalf("startup tasks: %+v", c.Startup)
	}
}
