package queue

import (
	"log/slog"
	"time"
)

// repeatEvery is a repeatLog's reminder interval when it sets none.
const repeatEvery = 30 * time.Second

// repeatLog keeps a condition that recurs many times a second (a worker's
// pull refused every poll interval while a stream has no leader) to a few
// log lines: one when it begins, then a reminder at most every interval
// with how often it recurred, and one when it ends. The zero value reminds
// every 30 s. It is owned by one goroutine (no locking).
type repeatLog struct {
	every time.Duration // between reminders; repeatEvery when zero
	on    bool
	since time.Time // when the condition began
	last  time.Time // when the last line about it was logged
	n     int       // occurrences since that line
	total int       // occurrences since the condition began
}

// occur records one occurrence at now and logs msg with args as a warning
// if it is the first one, or as a reminder with the count if the interval
// has passed since the last line.
func (r *repeatLog) occur(log *slog.Logger, now time.Time, msg string, args ...any) {
	every := r.every
	if every <= 0 {
		every = repeatEvery
	}
	r.n++
	r.total++
	switch {
	case !r.on:
		r.on, r.since, r.last, r.n, r.total = true, now, now, 0, 1
		log.Warn(msg, append(args, "repeats", "counted and reported every "+every.String())...)
	case now.Sub(r.last) >= every:
		log.Warn(msg+" (repeated)", append(args, "times", r.n, "since", r.since.Format(time.RFC3339))...)
		r.last, r.n = now, 0
	}
}

// end records that the condition is over and, if it was on, logs msg with
// args once, with how often it occurred and for how long. Cheap when it
// was off.
func (r *repeatLog) end(log *slog.Logger, msg string, args ...any) {
	if !r.on {
		return
	}
	log.Info(msg, append(args, "times", r.total, "after", time.Since(r.since).Round(time.Millisecond))...)
	r.on, r.n, r.total = false, 0, 0
}

// repeatLogs is one repeatLog per key, so that the condition ending for
// one key (a level whose pulls are answered) does not end it, and log
// its end, for another that still has it. The zero value is ready; it is
// owned by one goroutine.
type repeatLogs[K comparable] struct {
	every time.Duration // between reminders; repeatEvery when zero
	m     map[K]*repeatLog
}

// occur is repeatLog.occur for key.
func (rs *repeatLogs[K]) occur(key K, log *slog.Logger, now time.Time, msg string, args ...any) {
	r := rs.m[key]
	if r == nil {
		if rs.m == nil {
			rs.m = make(map[K]*repeatLog)
		}
		r = &repeatLog{every: rs.every}
		rs.m[key] = r
	}
	r.occur(log, now, msg, args...)
}

// end is repeatLog.end for key, logged with key under the attribute
// keyAttr. It costs a map length check (and no allocation) when no key has
// the condition, so it may sit on a hot path.
func (rs *repeatLogs[K]) end(key K, log *slog.Logger, msg, keyAttr string) {
	if len(rs.m) == 0 {
		return
	}
	if r := rs.m[key]; r != nil {
		r.end(log, msg, keyAttr, key)
		delete(rs.m, key)
	}
}
