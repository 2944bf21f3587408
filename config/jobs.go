package config

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cloudrole/cloudrole/tasks"
)

var programKeys = []string{"name", "type", "command", "dir", "env", "schedule", "singleton", "stopping_wait_time", "concurrency"}

// programs decodes jobs.programs, a list of external programs run as
// jobs.
func (p *parser) programs(n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.nodeErr(n, "jobs.programs", "must be a list of programs (- name: ..., command: [...])")
		return
	}
	names := map[string]int{}
	for i, item := range n.Content {
		path := fmt.Sprintf("jobs.programs[%d]", i)
		if item.Kind != yaml.MappingNode {
			p.nodeErr(item, path, "must be a mapping (%s)", joinKeys(programKeys))
			continue
		}
		var j JobProgram
		haveCommand := false
		first := len(p.errs)
		p.eachPair(item, path, func(key string, k, v *yaml.Node) {
			kp := join(path, key)
			switch key {
			case "name", "type", "dir", "schedule":
				text, ok := p.scalar(v, kp, false, "a string")
				if !ok {
					return
				}
				p.lines[kp] = v.Line
				switch key {
				case "name":
					j.Name = text
				case "type":
					j.Type = text
				case "dir":
					j.Dir = text
				case "schedule":
					j.Schedule = text
				}
			case "singleton":
				if text, ok := p.scalar(v, kp, false, "true or false"); ok {
					b, err := strconv.ParseBool(text)
					if err != nil {
						p.nodeErr(v, kp, "must be true or false, not %s", quote(text))
					}
					j.Singleton = b
				}
			case "concurrency":
				if text, ok := p.scalar(v, kp, false, "an integer"); ok {
					c, err := strconv.Atoi(text)
					if err != nil {
						p.nodeErr(v, kp, "invalid integer %s", quote(text))
					}
					j.Concurrency = c
					p.lines[kp] = v.Line
				}
			case "stopping_wait_time":
				if text, ok := p.scalar(v, kp, true, `a duration like "30s"`); ok {
					d, err := parseDuration(text)
					if err != nil {
						p.nodeErr(v, kp, "%v", err)
					}
					j.StoppingWaitTime = d
				}
			case "env":
				if m, ok := p.stringMap(v, kp); ok {
					j.Env = m
				}
			case "command":
				j.Command, haveCommand = p.command(v, kp), true
			default:
				p.nodeErr(k, kp, "unknown key%s", suggest(key, programKeys))
			}
		})
		switch {
		case j.Name == "":
			p.nodeErr(item, path, "name is required")
		case names[j.Name] != 0:
			p.nodeErr(item, path, "name %s already used by the program on line %d", quote(j.Name), names[j.Name])
		default:
			names[j.Name] = item.Line
		}
		if !haveCommand || (len(j.Command) == 0 && len(p.errs) == first) {
			p.nodeErr(item, path, "command is required, as a list: command: [program, arg1, arg2]")
		}
		if j.Name != "" {
			for _, e := range p.errs[first:] {
				e.Msg = "program " + quote(j.Name) + ": " + e.Msg
			}
		}
		p.cfg.Jobs.Programs = append(p.cfg.Jobs.Programs, j)
	}
}

func joinKeys(keys []string) string {
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += k
	}
	return out
}

// jobNameRE is WebJobs' rule for a job name, as package jobs checks it
// (config cannot import jobs: it would bring in the NATS server).
var jobNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$`)

// validateJobs checks the jobs section, each problem where it was set.
func (p *parser) validateJobs() {
	j := p.cfg.Jobs
	if j.History < 1 {
		p.errorf("jobs.history", "must be at least 1, not %d", j.History)
	}
	if j.HistorySize < 1<<10 {
		p.errorf("jobs.history_size", "must be at least 1KiB, not %d bytes", j.HistorySize)
	}
	if j.MaxQueued < 1 {
		p.errorf("jobs.max_queued", "must be at least 1, not %d", j.MaxQueued)
	}
	if j.Heartbeat < 10*time.Millisecond {
		p.errorf("jobs.heartbeat", "must be at least 10ms, not %s", j.Heartbeat)
	}
	if j.FailAfter < 4*j.Heartbeat {
		p.errorf("jobs.fail_after", "%s is less than four heartbeats (%s): a run would fail before it reads as Disconnected", j.FailAfter, 4*j.Heartbeat)
	}
	if j.ScanInterval < 10*time.Millisecond {
		p.errorf("jobs.scan_interval", "must be at least 10ms, not %s", j.ScanInterval)
	}
	loc, err := time.LoadLocation(j.TimeZone)
	if err != nil || j.TimeZone == "" {
		p.errorf("jobs.time_zone", "%s is not a time zone (an IANA name such as Europe/Berlin, UTC or Local)", quote(j.TimeZone))
		loc = time.UTC
	}
	if j.Replicas < 1 || j.Replicas > 5 {
		p.errorf("jobs.replicas", "must be 1 to 5, not %d", j.Replicas)
	}
	for i, prog := range j.Programs {
		path := fmt.Sprintf("jobs.programs[%d]", i)
		at := func(key string) string {
			if _, ok := p.lines[path+"."+key]; ok || p.inCode {
				return path + "." + key
			}
			return path
		}
		if prog.Name != "" && !jobNameRE.MatchString(prog.Name) {
			p.errorf(at("name"), "%s: a job name is a letter or digit, then letters, digits, - and _, at most 50 characters", quote(prog.Name))
		}
		switch prog.Type {
		case "", "triggered", "continuous":
		default:
			p.errorf(at("type"), "%s is not triggered or continuous", quote(prog.Type))
		}
		if prog.Schedule != "" {
			if prog.Type == "continuous" {
				p.errorf(at("schedule"), "a continuous job runs all the time; only triggered jobs have a schedule")
			} else if _, err := tasks.ParseCron(prog.Schedule, loc); err != nil {
				p.errorf(at("schedule"), "%v", err)
			}
		}
		if prog.Concurrency < 0 || prog.Concurrency > 1000 {
			p.errorf(at("concurrency"), "must be 1 to 1000, not %d", prog.Concurrency)
		} else if prog.Concurrency > 1 && prog.Type == "continuous" {
			p.errorf(at("concurrency"), "a continuous job runs once per instance")
		}
		if p.inCode {
			if prog.Name == "" {
				p.errorf(path, "name is required")
			}
			if len(prog.Command) == 0 || prog.Command[0] == "" {
				p.errorf(path+".command", "the program name is required")
			}
			if prog.StoppingWaitTime < 0 {
				p.errorf(path+".stopping_wait_time", "must not be negative")
			}
		}
	}
}
