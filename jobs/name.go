package jobs

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest job name: the job's trigger queue is named
// "cloudrole-job-<name>", and queue names have at most 64 characters.
const MaxNameLen = 50

// ValidName reports whether name follows WebJobs' rule: a letter or digit
// first, then letters, digits, '-' and '_', at most MaxNameLen characters.
// The error says what is wrong.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: the job name is empty", ErrBadJob)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: job name %.20q… is %d characters; at most %d", ErrBadJob, name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return fmt.Errorf("%w: job name %q: %s", ErrBadJob, name, nameRule(i, c))
		}
	}
	return nil
}

func nameRule(i int, c byte) string {
	if i == 0 {
		return "must start with a letter or digit"
	}
	return fmt.Sprintf("%q at byte %d: use only letters, digits, - and _", rune(c), i)
}

// jobOf returns the job name of a run ID (what precedes its first dot).
func jobOf(id string) string {
	job, _, _ := strings.Cut(id, ".")
	return job
}
