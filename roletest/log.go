package roletest

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// logSink keeps every record the Env's logger writes and copies each to
// the test's output (t.Output: as t.Log, without the file and line of this
// file) while the test runs; after the test ends it only keeps them, since
// the test's output then panics and a role's goroutine may still log.
type logSink struct {
	out   io.Writer
	mu    sync.Mutex
	buf   bytes.Buffer
	ended bool
}

func newLogSink(t testing.TB) *logSink {
	s := &logSink{out: t.Output()}
	t.Cleanup(func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	})
	return s
}

// Write takes one record: slog's text handler writes each in one call.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if !s.ended {
		s.out.Write(p)
	}
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// newTextLogger writes every level as text without timestamps, so logs are
// the same on every run and easy to search.
func newTextLogger(s *logSink) *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Logs returns everything the Env's logger wrote so far, one text record a
// line without timestamps ("level=INFO msg=... role=roletest ..."): the
// role's own logs, the records of package tasks and queue reached through
// the hook contexts, and roletest's records of what the host would log
// (busy, recycle and stop requests, panics, a failed OnStop, settings
// changes). Empty when Options.Logger was set.
func (e *Env) Logs() string {
	if e.sink == nil {
		return ""
	}
	return e.sink.String()
}
