package jobs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// idTime is the time part of a run ID: UTC, to the second, no dots (a run
// ID is also a NATS subject's last two tokens and a KV key).
const idTime = "20060102T150405Z"

// newRunID returns "<job>.<time>-<6 hex digits>" for a run started at t.
func newRunID(job string, t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return job + "." + t.UTC().Format(idTime) + "-" + hex.EncodeToString(b[:])
}

// fireRunID is the run ID of a schedule's fire at t: the same on every
// instance, so the fleet stores one run per fire time.
func fireRunID(job string, t time.Time) string {
	return job + "." + t.UTC().Format(idTime) + "-cron"
}

// CheckRunID reports whether id is a run ID: a valid job name, a dot,
// then letters, digits and '-' (at most 64). The error wraps ErrBadRunID.
func CheckRunID(id string) error {
	job, part, ok := strings.Cut(id, ".")
	if !ok {
		return fmt.Errorf("%w: %q: want <job>.<time>-<suffix>, e.g. report.20260315T101502Z-a3f9c1", ErrBadRunID, short(id))
	}
	if err := ValidName(job); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrBadRunID, short(id), err)
	}
	if part == "" || len(part) > 64 {
		return fmt.Errorf("%w: %q: the part after the dot must be 1 to 64 characters", ErrBadRunID, short(id))
	}
	for i := 0; i < len(part); i++ {
		c := part[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: %q: %q is not allowed after the dot (letters, digits and - only)", ErrBadRunID, short(id), rune(c))
		}
	}
	return nil
}

// short cuts s for an error message.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
