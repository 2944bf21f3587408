package jobs

import (
	"encoding/binary"
	"time"
	"unicode/utf8"
)

// Stream says which of a run's outputs a line came from.
type Stream string

const (
	Stdout Stream = "stdout" // stored and logged at INFO
	Stderr Stream = "stderr" // stored and logged at ERROR
)

// Line is one line of a run's output.
type Line struct {
	// Seq orders the lines of a run (the output stream's sequence).
	Seq uint64 `json:"seq"`
	// Time is when the runner read the line from the program (or the Go
	// job wrote it).
	Time   time.Time `json:"time"`
	Stream Stream    `json:"stream"`
	// Text is the line without its newline, as valid UTF-8 (see the
	// package doc: Output).
	Text string `json:"text"`
}

// Level is the log level name of the line's stream: INFO or ERROR.
func (l Line) Level() string {
	if l.Stream == Stderr {
		return "ERROR"
	}
	return "INFO"
}

// lineHeader is the size of a stored line's header: the stream (one byte,
// 'O' or 'E') and the time (8 bytes, Unix nanoseconds, big-endian).
const lineHeader = 9

func encodeLine(dst []byte, s Stream, t time.Time, text string) []byte {
	k := byte('O')
	if s == Stderr {
		k = 'E'
	}
	dst = append(dst, k)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano()))
	return append(dst, text...)
}

// decodeLine reads a stored line; stored is the server's time of the
// message, used for a line written by something other than a runner.
func decodeLine(seq uint64, b []byte, stored time.Time) Line {
	if len(b) < lineHeader || (b[0] != 'O' && b[0] != 'E') {
		return Line{Seq: seq, Time: stored, Stream: Stdout, Text: sanitize(b)}
	}
	l := Line{Seq: seq, Stream: Stdout, Time: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:lineHeader])))}
	if b[0] == 'E' {
		l.Stream = Stderr
	}
	l.Text = sanitize(b[lineHeader:])
	return l
}

// sanitize returns b as text a terminal can show safely: invalid UTF-8
// and control characters other than tab become U+FFFD, so a program
// printing binary garbage cannot send escape sequences to whoever reads
// its output.
func sanitize(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 && c != '\t' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	out := make([]rune, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r == utf8.RuneError && n <= 1 || r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			r = utf8.RuneError
		}
		out = append(out, r)
	}
	return string(out)
}
