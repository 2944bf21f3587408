package queue

import (
	"fmt"
	"strconv"
)

// Names of the NATS objects behind a queue. Stream names carry a prefix so
// queues never collide with a user's own streams.
// levelStream is the stream of one level: each level has its own, so an
// ack (which deletes the job) never has to look up other levels'
// consumers, and each level's backlog and cluster leader are its own.
func levelStream(q string, l int) string { return "CRQ_" + q + "_p" + strconv.Itoa(l) }
func oldStreamName(q string) string      { return "CRQ_" + q }
func dlqStreamName(q string) string      { return "CRQ_" + q + "_DLQ" }
func statusBucket(q string) string       { return "CRQ_" + q + "_status" }
func consumerName(q string, l int) string {
	return "CRQ_" + q + "_p" + strconv.Itoa(l)
}
func levelSubject(q string, l int) string { return "cloudrole.queue." + q + "." + strconv.Itoa(l) }

// levelSubjectList is the subjects of a queue's levels, made once.
func levelSubjectList(q string, levels int) []string {
	s := make([]string, levels)
	for l := range s {
		s[l] = levelSubject(q, l)
	}
	return s
}

func bellSubject(q string) string { return "cloudrole.bell." + q + ".>" }
func bellLevelSubject(q string, l int) string {
	return "cloudrole.bell." + q + "." + strconv.Itoa(l)
}
func dlqSubject(q string) string { return "cloudrole.dlq." + q }

// The schedule stream of a queue holds its scheduled jobs until the
// server fires them (see schedule.go): one message per scheduled job on
// atSubject, one per recurring schedule on recurringSubject, and, for a
// moment, each fired copy on dueSubject, which the level stream sources.
func schedStream(q string) string   { return "CRQ_" + q + "_sched" }
func schedSubjects(q string) string { return "cloudrole.sched." + q + ".>" }
func atSubject(q string, l int, id string) string {
	return "cloudrole.sched." + q + ".at." + strconv.Itoa(l) + "." + id
}

// atAnyLevel matches the schedule of job id at whatever level.
func atAnyLevel(q, id string) string { return "cloudrole.sched." + q + ".at.*." + id }
func atLevel(q string, l int) string { return "cloudrole.sched." + q + ".at." + strconv.Itoa(l) + ".>" }
func recurringSubject(q, name string) string {
	return "cloudrole.sched." + q + ".rec." + name
}
func recurringSubjects(q string) string { return "cloudrole.sched." + q + ".rec.*" }
func dueSubject(q string, l int) string {
	return "cloudrole.sched." + q + ".due." + strconv.Itoa(l)
}

// dueConsumer is the durable push consumer on the schedule stream that
// the stream of level l sources its fired jobs through; dueDeliver is its
// delivery subject.
func dueConsumer(q string, l int) string { return "CRQ_" + q + "_due" + strconv.Itoa(l) }
func dueDeliver(q string, l int) string  { return "cloudrole.due." + q + "." + strconv.Itoa(l) }

// uniqueBucket holds a queue's unique job keys (see unique.go).
func uniqueBucket(q string) string { return "CRQ_" + q + "_unique" }

// ctlBucket holds a queue's cancel requests (see cancel.go).
func ctlBucket(q string) string { return "CRQ_" + q + "_ctl" }

// validateName accepts 1..64 characters of A-Z a-z 0-9 _ -.
func validateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrBadName)
	}
	if len(name) > 64 {
		return fmt.Errorf("%w: %q is %d bytes long; at most 64", ErrBadName, name, len(name))
	}
	for i, r := range name {
		if !nameChar(r) {
			return fmt.Errorf("%w: %q has %q at byte %d; use only A-Z a-z 0-9 _ -", ErrBadName, name, r, i)
		}
	}
	return nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// validateID accepts 1..128 characters of A-Z a-z 0-9 _ - = and inner dots,
// which are valid in a KV key and a header value.
func validateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrBadID)
	}
	if len(id) > 128 {
		return fmt.Errorf("%w: %d bytes long; at most 128", ErrBadID, len(id))
	}
	for i, r := range id {
		if nameChar(r) || r == '=' {
			continue
		}
		if r == '.' && i > 0 && i < len(id)-1 && id[i-1] != '.' {
			continue
		}
		return fmt.Errorf("%w: %q has %q at byte %d; use A-Z a-z 0-9 _ - = and inner single dots", ErrBadID, id, r, i)
	}
	return nil
}

// validSubject reports whether s is a publishable NATS subject (no
// wildcards, whitespace or empty tokens).
func validSubject(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case c == '*' || c == '>' || c <= ' ' || c == 0x7f:
			return false
		}
		prevDot = false
	}
	return !prevDot
}
