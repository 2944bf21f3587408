package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrTooLarge is wrapped by the error for a config file larger than
// MaxFileSize.
var ErrTooLarge = errors.New("config file too large")

// Error is one problem in a config. Its text is "file:line: key: msg", with
// empty parts left out; for an environment override File is "environment"
// and Key is the variable's name. Err, when set, is the underlying cause
// (e.g. fs.ErrNotExist from Load, ErrTooLarge), for errors.Is.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
	Err  error
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, sorted by line; its text has one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// MaxErrors caps the problems reported for one config; past it the last
// entry says how many more there were, so a hostile file cannot produce a
// huge error message.
const MaxErrors = 50

// maxQuoted caps a value or key quoted in an error message.
const maxQuoted = 80

// short returns s cut to maxQuoted bytes (on a rune boundary) plus "…".
func short(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quote is %q of a value cut to a readable length.
func quote(s string) string { return strconv.Quote(short(s)) }

// result returns nil, the single *Error, or the sorted Errors capped at
// MaxErrors.
func (es Errors) result() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File != "environment" && es[j].File == "environment"
		}
		return es[i].Line < es[j].Line
	})
	if len(es) > MaxErrors {
		more := len(es) - MaxErrors
		es = append(es[:MaxErrors:MaxErrors], &Error{File: es[MaxErrors].File,
			Msg: fmt.Sprintf("... and %d more problems", more)})
	}
	return es
}

// suggest returns " (did you mean X?)" for the known word closest to word,
// or "" if none is close.
func suggest(word string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(word, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
