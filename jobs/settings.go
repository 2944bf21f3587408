package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
)

// SettingsFile is the name of a job folder's settings, as in WebJobs.
const SettingsFile = "settings.job"

// maxSettingsSize caps a settings.job file.
const maxSettingsSize = 64 << 10

// FileError is a problem in a job folder: the file, the line (0 if not
// known) and the key, as config errors are reported. It wraps ErrBadJob.
type FileError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes a FileError match ErrBadJob.
func (e *FileError) Unwrap() error { return ErrBadJob }

// settings are what a settings.job may say. The keys are WebJobs':
// schedule, is_singleton, stopping_wait_time (seconds), is_in_place,
// run_mode (continuous, scheduled or on_demand, overriding the folder's
// type), shutdownGraceTimeLimit (seconds, a cap on the stopping wait) and
// using_sdk (accepted and ignored: it only changes WebJobs' dashboard).
type jobSettings struct {
	schedule      string
	singleton     bool
	stoppingWait  time.Duration
	stoppingSet   bool // stopping_wait_time was given (0 means at once)
	inPlace       bool
	runMode       string
	shutdownLimit time.Duration
}

var settingKeys = []string{"schedule", "is_singleton", "stopping_wait_time", "is_in_place", "run_mode", "shutdownGraceTimeLimit", "using_sdk"}

// readSettings reads a settings.job file; a missing one is the defaults.
// Errors are *FileErrors (or Errors of them).
func readSettings(path string, loc *time.Location) (jobSettings, error) {
	var s jobSettings
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, &FileError{File: path, Msg: "cannot read: " + err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSettingsSize+1))
	if err != nil {
		return s, &FileError{File: path, Msg: "cannot read: " + err.Error()}
	}
	if len(data) > maxSettingsSize {
		return s, &FileError{File: path, Msg: fmt.Sprintf("larger than %d bytes", maxSettingsSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM from a Windows editor
	// WebJobs reads settings.job with Json.NET, which allows comments
	// (Microsoft's own example has one); strip them, keeping the lines.
	data = stripComments(data)
	keys, perr := parseObject(data)
	if perr != nil {
		return s, &FileError{File: path, Line: perr.line, Msg: perr.msg}
	}
	var problems []error
	bad := func(k key, format string, args ...any) {
		problems = append(problems, &FileError{File: path, Line: k.line, Key: k.name, Msg: fmt.Sprintf(format, args...)})
	}
	for _, k := range keys {
		switch k.name {
		case "schedule":
			var v string
			if json.Unmarshal(k.value, &v) != nil {
				bad(k, "must be a string, e.g. \"0 */15 * * * *\", not %s", short(string(k.value)))
				continue
			}
			if _, err := tasks.ParseCron(v, loc); err != nil {
				bad(k, "%s", cronError(err))
				continue
			}
			s.schedule = v
		case "is_singleton", "is_in_place", "using_sdk":
			var v bool
			if json.Unmarshal(k.value, &v) != nil {
				bad(k, "must be true or false, not %s", short(string(k.value)))
				continue
			}
			switch k.name {
			case "is_singleton":
				s.singleton = v
			case "is_in_place":
				s.inPlace = v
			}
		case "stopping_wait_time", "shutdownGraceTimeLimit":
			var v float64
			if json.Unmarshal(k.value, &v) != nil || v < 0 || math.IsInf(v, 0) || v > 24*3600 {
				bad(k, "must be a number of seconds from 0 to 86400, not %s", short(string(k.value)))
				continue
			}
			d := time.Duration(v * float64(time.Second))
			if k.name == "stopping_wait_time" {
				s.stoppingWait, s.stoppingSet = d, true
			} else {
				s.shutdownLimit = d
			}
		case "run_mode":
			var v string
			if json.Unmarshal(k.value, &v) != nil || (v != "continuous" && v != "scheduled" && v != "on_demand") {
				bad(k, "must be \"continuous\", \"scheduled\" or \"on_demand\", not %s", short(string(k.value)))
				continue
			}
			s.runMode = v
		default:
			bad(k, "unknown key%s (settings.job keys: %s)", suggestKey(k.name), strings.Join(settingKeys, ", "))
		}
	}
	if len(problems) > 0 {
		return s, errors.Join(problems...)
	}
	return s, nil
}

// key is one key of a JSON object, with the line it is on.
type key struct {
	name  string
	line  int
	value json.RawMessage
}

type parseError struct {
	line int
	msg  string
}

// parseObject reads a JSON object's keys in order, with their lines;
// duplicate keys and anything but an object are errors.
func parseObject(data []byte) ([]key, *parseError) {
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) *parseError {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &parseError{line: lineAt(se.Offset), msg: "invalid JSON: " + se.Error()}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &parseError{line: lineAt(int64(len(data))), msg: "invalid JSON: unexpected end of the file"}
		}
		return &parseError{msg: "invalid JSON: " + err.Error()}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil // an empty file: the defaults
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &parseError{line: 1, msg: `must be a JSON object, e.g. {"schedule": "0 */15 * * * *"}`}
	}
	var keys []key
	seen := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		name, _ := tok.(string)
		line := lineAt(dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, syntax(err)
		}
		if first, dup := seen[name]; dup {
			return nil, &parseError{line: line, msg: fmt.Sprintf("%s: duplicate key (first on line %d)", name, first)}
		}
		seen[name] = line
		keys = append(keys, key{name: name, line: line, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntax(err)
	}
	if dec.More() {
		return nil, &parseError{line: lineAt(dec.InputOffset()), msg: "invalid JSON: text after the object"}
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].line < keys[j].line })
	return keys, nil
}

// stripComments blanks // and /* */ comments outside strings, keeping
// newlines so lines still count right.
func stripComments(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr:
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
			out = append(out, c)
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			if i < len(b) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			i += 2
			for i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/') {
				if b[i] == '\n' {
					out = append(out, '\n')
				}
				i++
			}
			i++ // the closing '/'
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return out
}

// suggestKey is " (did you mean X?)" for a key close to a known one.
func suggestKey(k string) string {
	lk := strings.ToLower(strings.ReplaceAll(k, "-", "_"))
	for _, known := range settingKeys {
		if editDistance(lk, strings.ToLower(known)) <= 2 {
			return " (did you mean " + known + "?)"
		}
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
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

// cronError is a ParseCron error without its package prefix.
func cronError(err error) string {
	return strings.TrimPrefix(err.Error(), tasks.ErrInvalid.Error()+": ")
}
