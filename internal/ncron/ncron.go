// Package ncron parses the 6-field NCRONTAB patterns (seconds first) that
// nats-server's message schedules take, with the server's own semantics,
// so that cloudrole can refuse a bad pattern with an error that names the
// field, and compute a schedule's fire times: the server's fired messages
// carry the time of the next fire, not their own.
//
// The field syntax and the search for the next time follow nats-server's
// server/cron.go (v2.15, Apache License 2.0), itself based on
// github.com/robfig/cron (Copyright (C) 2012 Rob Figueiredo, MIT
// License): "*" or "?", numbers, ranges "a-b", steps "/n", lists "a,b",
// and month and weekday names; when both day fields are restricted, a day
// matches either of them, and when either is "*", both must match.
package ncron

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Spec is a parsed pattern.
type Spec struct {
	second, minute, hour, dom, month, dow uint64
}

// Predefined patterns the server accepts in place of six fields.
var predefined = map[string]string{
	"@yearly":   "0 0 0 1 1 *",
	"@annually": "0 0 0 1 1 *",
	"@monthly":  "0 0 0 1 * *",
	"@weekly":   "0 0 0 * * 0",
	"@daily":    "0 0 0 * * *",
	"@midnight": "0 0 0 * * *",
	"@hourly":   "0 0 * * * *",
}

var fieldNames = [6]string{"seconds", "minutes", "hours", "day of month", "month", "day of week"}

// Parse parses a 6-field pattern (seconds, minutes, hours, day of month,
// month, day of week) or one of @yearly, @annually, @monthly, @weekly,
// @daily, @midnight and @hourly. Its errors say which field is wrong; a
// 5-field pattern (classic cron, without seconds) is refused with a hint.
func Parse(pattern string) (*Spec, error) {
	if p, ok := predefined[pattern]; ok {
		pattern = p
	}
	fields := strings.Fields(pattern)
	switch len(fields) {
	case 6:
	case 5:
		return nil, fmt.Errorf("cron pattern %q has 5 fields; NCRONTAB has 6, seconds first: %q runs at second 0 of the same times", pattern, "0 "+pattern)
	default:
		return nil, fmt.Errorf("cron pattern %q has %d fields; want 6: seconds minutes hours day-of-month month day-of-week", pattern, len(fields))
	}
	bounds := [6]bounds{seconds, minutes, hours, dom, months, dow}
	var bits [6]uint64
	for i, f := range fields {
		b, err := getField(f, bounds[i])
		if err != nil {
			return nil, fmt.Errorf("cron pattern %q: field %d (%s) %q: %w", pattern, i+1, fieldNames[i], f, err)
		}
		bits[i] = b
	}
	s := &Spec{bits[0], bits[1], bits[2], bits[3], bits[4], bits[5]}
	if _, err := s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return nil, fmt.Errorf("cron pattern %q: %w", pattern, err)
	}
	return s, nil
}

// Next returns the first fire time after t, in t's location, as the
// server computes it (from the second after t, truncated).
func (s *Spec) Next(t time.Time) (time.Time, error) {
	loc := t.Location()
	next := t.Truncate(time.Second).Add(time.Second)
	truncated := false
	yearLimit := next.Year() + 5
WRAP:
	if next.Year() > yearLimit {
		return time.Time{}, errors.New("no fire time within five years")
	}
	for 1<<uint(next.Month())&s.month == 0 {
		if !truncated {
			truncated = true
			next = time.Date(next.Year(), next.Month(), 1, 0, 0, 0, 0, loc)
		}
		if next = next.AddDate(0, 1, 0); next.Month() == time.January {
			goto WRAP
		}
	}
	for !s.dayMatches(next) {
		if !truncated {
			truncated = true
			next = time.Date(next.Year(), next.Month(), next.Day(), 0, 0, 0, 0, loc)
		}
		if next = next.AddDate(0, 0, 1); next.Day() == 1 {
			goto WRAP
		}
	}
	for 1<<uint(next.Hour())&s.hour == 0 {
		if !truncated {
			truncated = true
			next = time.Date(next.Year(), next.Month(), next.Day(), next.Hour(), 0, 0, 0, loc)
		}
		if next = next.Add(time.Hour); next.Hour() == 0 {
			goto WRAP
		}
	}
	for 1<<uint(next.Minute())&s.minute == 0 {
		if !truncated {
			truncated = true
			next = next.Truncate(time.Minute)
		}
		if next = next.Add(time.Minute); next.Minute() == 0 {
			goto WRAP
		}
	}
	for 1<<uint(next.Second())&s.second == 0 {
		if !truncated {
			truncated = true
			next = next.Truncate(time.Second)
		}
		if next = next.Add(time.Second); next.Second() == 0 {
			goto WRAP
		}
	}
	return next, nil
}

// Prev returns the last fire time before fire, itself a fire time (the
// server's "next" of a fired message names the fire after it): the
// earliest whole second x such that Next(x) is fire, found by bisection
// within the five years Next searches.
func (s *Spec) Prev(fire time.Time) (time.Time, bool) {
	lo := fire.AddDate(-5, 0, 0).Truncate(time.Second)
	hi := fire.Truncate(time.Second).Add(-time.Second)
	if n, err := s.Next(lo); err != nil || !n.Before(fire) {
		return time.Time{}, false // no fire before within the range
	}
	// Invariant: Next(lo) < fire, Next(hi) >= fire.
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if n, err := s.Next(mid); err == nil && n.Before(fire) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, true
}

func (s *Spec) dayMatches(t time.Time) bool {
	domMatch := 1<<uint(t.Day())&s.dom > 0
	dowMatch := 1<<uint(t.Weekday())&s.dow > 0
	if s.dom&starBit > 0 || s.dow&starBit > 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}

type bounds struct {
	min, max uint
	names    map[string]uint
}

var (
	seconds = bounds{0, 59, nil}
	minutes = bounds{0, 59, nil}
	hours   = bounds{0, 23, nil}
	dom     = bounds{1, 31, nil}
	months  = bounds{1, 12, map[string]uint{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	dow = bounds{0, 6, map[string]uint{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}}
)

// starBit marks a field given as "*" (or "?").
const starBit = 1 << 63

func getField(field string, r bounds) (uint64, error) {
	var bits uint64
	for expr := range strings.SplitSeq(field, ",") {
		bit, err := getRange(expr, r)
		if err != nil {
			return bits, err
		}
		bits |= bit
	}
	return bits, nil
}

func getRange(expr string, r bounds) (uint64, error) {
	var (
		start, end, step uint
		rangeAndStep     = strings.Split(expr, "/")
		lowAndHigh       = strings.Split(rangeAndStep[0], "-")
		singleDigit      = len(lowAndHigh) == 1
		err              error
		extra            uint64
	)
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end, extra = r.min, r.max, starBit
	} else {
		if start, err = parseIntOrName(lowAndHigh[0], r.names); err != nil {
			return 0, err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = parseIntOrName(lowAndHigh[1], r.names); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("too many hyphens in %q", expr)
		}
	}
	switch len(rangeAndStep) {
	case 1:
		step = 1
	case 2:
		if step, err = mustParseInt(rangeAndStep[1]); err != nil {
			return 0, err
		}
		if singleDigit {
			end = r.max // "N/step" means "N-max/step"
		}
		if step > 1 {
			extra = 0
		}
	default:
		return 0, fmt.Errorf("too many slashes in %q", expr)
	}
	switch {
	case start < r.min:
		return 0, fmt.Errorf("%d is below the minimum %d", start, r.min)
	case end > r.max:
		return 0, fmt.Errorf("%d is above the maximum %d", end, r.max)
	case start > end:
		return 0, fmt.Errorf("range %d-%d runs backwards", start, end)
	case step == 0:
		return 0, errors.New("a step must be positive")
	}
	return getBits(start, end, step) | extra, nil
}

func parseIntOrName(expr string, names map[string]uint) (uint, error) {
	if names != nil {
		if n, ok := names[strings.ToLower(expr)]; ok {
			return n, nil
		}
	}
	return mustParseInt(expr)
}

func mustParseInt(expr string) (uint, error) {
	num, err := strconv.Atoi(expr)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", expr)
	}
	if num < 0 {
		return 0, fmt.Errorf("negative number %d", num)
	}
	return uint(num), nil
}

func getBits(lo, hi, step uint) uint64 {
	if step == 1 {
		return ^(math.MaxUint64 << (hi + 1)) & (math.MaxUint64 << lo)
	}
	var bits uint64
	for i := lo; i <= hi; i += step {
		bits |= 1 << i
	}
	return bits
}
