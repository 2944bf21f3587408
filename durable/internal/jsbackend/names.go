package jsbackend

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// validNamespace is what a namespace may be: one subject token that is
// also valid in a stream name.
var validNamespace = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// names are one backend's stream and subjects. Every subject is
//
//	durable.<ns>.e.<instance>.<execution>.<kind>...   an instance's log
//	durable.<ns>.s.<instance>.<execution>.<id>        a timer's schedule
//
// where the log kinds are
//
//	m.p.<route>      a snapshot that adds events (a start, a signal, an
//	                 activity result, ...); route w.<queue> when it makes the
//	                 instance queued (it is then its task), n otherwise
//	m.c.<route>      a snapshot and the history a workflow task added (a commit);
//	                 route n, w.<queue> (the commit is the next task) or
//	                 a.<queue> (it carries the one activity it scheduled)
//	t.w.<queue>      a fired timer, stored by the server
//	a.<queue>        an activity task, when a commit schedules several
//
// Identifiers are escaped into single tokens by tok.
type names struct {
	stream string // DURABLE_<ns>
	pre    string // durable.<ns>
}

func newNames(ns string) (names, error) {
	if !validNamespace.MatchString(ns) {
		return names{}, fmt.Errorf("jsbackend: namespace %q: want 1 to 64 of A-Z a-z 0-9 _ -", ns)
	}
	return names{stream: "DURABLE_" + ns, pre: "durable." + ns}, nil
}

// all is the stream's subject filter.
func (n names) all() string { return n.pre + ".>" }

// log is every message of an instance: what a snapshot writer's
// compare-and-set covers.
func (n names) log(inst string) string { return n.pre + ".e." + tok(inst) + ".>" }

// snaps is every snapshot-bearing message of an instance; the last one is
// its current state.
func (n names) snaps(inst string) string { return n.pre + ".e." + tok(inst) + ".*.m.>" }

// exec is the prefix of one execution's log subjects.
func (n names) exec(inst, exec string) string {
	return n.pre + ".e." + tok(inst) + "." + tok(exec)
}

// execAll is every message of one execution.
func (n names) execAll(inst, exec string) string { return n.exec(inst, exec) + ".>" }

// execSnaps is every snapshot of one execution; the last is its state.
func (n names) execSnaps(inst, exec string) string { return n.exec(inst, exec) + ".m.>" }

// commits is every commit of one execution: its history, in order.
func (n names) commits(inst, exec string) string { return n.exec(inst, exec) + ".m.c.>" }

// start is the subject of an execution's first message.
func (n names) start(inst, exec, queue string) string {
	return n.append(inst, exec, routeTask(queue))
}

// append is the subject of a snapshot that adds events, with a route: w
// when it makes an idle instance queued (it is then the task), n otherwise.
func (n names) append(inst, exec, route string) string {
	return n.exec(inst, exec) + ".m.p." + route
}

// commit is the subject of a commit with the given route.
func (n names) commit(inst, exec, route string) string {
	return n.exec(inst, exec) + ".m.c." + route
}

// fired is the subject a timer's schedule fires into: the workflow task
// consumer of the execution's queue delivers it.
func (n names) fired(inst, exec, queue string) string {
	return n.exec(inst, exec) + ".t.w." + tok(queue)
}

// activity is the subject of an activity task on queue.
func (n names) activity(inst, exec, queue string) string {
	return n.exec(inst, exec) + ".a." + tok(queue)
}

// schedule is the subject of a timer's schedule message.
func (n names) schedule(inst, exec string, scheduleEventID int64) string {
	return n.pre + ".s." + tok(inst) + "." + tok(exec) + "." + strconv.FormatInt(scheduleEventID, 10)
}

// schedules is every schedule of one execution, and allSchedules of all.
func (n names) schedules(inst, exec string) string {
	return n.pre + ".s." + tok(inst) + "." + tok(exec) + ".>"
}
func (n names) allSchedules() string { return n.pre + ".s.>" }

// allSnaps is every snapshot-bearing subject: one set per execution.
func (n names) allSnaps() string { return n.pre + ".e.*.*.m.>" }

func routeNone() string             { return "n" }
func routeTask(queue string) string { return "w." + tok(queue) }
func routeActivity(queue string) string {
	return "a." + tok(queue)
}

// workflowFilters are what the workflow task consumer of queue delivers:
// task-bearing snapshots and fired timers.
func (n names) workflowFilters(queue string) []string {
	q := tok(queue)
	return []string{n.pre + ".e.*.*.m.*.w." + q, n.pre + ".e.*.*.t.w." + q}
}

// activityFilters are what the activity task consumer of queue delivers.
func (n names) activityFilters(queue string) []string {
	q := tok(queue)
	return []string{n.pre + ".e.*.*.m.c.a." + q, n.pre + ".e.*.*.a." + q}
}

// Consumer names: the queue's token, which is a valid name (no dots,
// wildcards, slashes or spaces).
func workflowConsumer(queue string) string { return "wf_" + tok(queue) }
func activityConsumer(queue string) string { return "act_" + tok(queue) }

// logSubject is a parsed log subject.
type logSubject struct {
	inst, exec string
	kind       string // "m", "v" or "a"
	sub        string // for kind m: "p" or "c"
}

var errNotLog = errors.New("jsbackend: not a log subject")

// parse splits a log subject into its parts.
func (n names) parse(subject string) (logSubject, error) {
	rest, ok := strings.CutPrefix(subject, n.pre+".e.")
	if !ok {
		return logSubject{}, errNotLog
	}
	t := strings.Split(rest, ".")
	if len(t) < 3 {
		return logSubject{}, errNotLog
	}
	inst, err := untok(t[0])
	if err != nil {
		return logSubject{}, err
	}
	exec, err := untok(t[1])
	if err != nil {
		return logSubject{}, err
	}
	ls := logSubject{inst: inst, exec: exec, kind: t[2]}
	if ls.kind == "m" {
		if len(t) < 4 {
			return logSubject{}, errNotLog
		}
		ls.sub = t[3]
	}
	return ls, nil
}

// tok escapes s into one subject token that is also valid in a consumer
// name: A-Z a-z 0-9 _ - stay, every other byte is =XX (hex). Instance IDs
// are chosen by callers and may hold dots, spaces or wildcards. The empty
// string is "=", which no escaped identifier equals.
func tok(s string) string {
	if s == "" {
		return "="
	}
	safe := true
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// untok reverses tok.
func untok(t string) (string, error) {
	if t == "=" {
		return "", nil
	}
	if !strings.Contains(t, "=") {
		return t, nil
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '=' {
			b.WriteByte(t[i])
			continue
		}
		if i+2 >= len(t) {
			return "", fmt.Errorf("jsbackend: bad token %q", t)
		}
		v, err := strconv.ParseUint(t[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("jsbackend: bad token %q", t)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
