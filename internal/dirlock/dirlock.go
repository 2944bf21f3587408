package dirlock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// FileName is the lock file Acquire creates inside the directory. It is
// never removed: removing a lock file lets two processes lock two
// different files of the same name.
const FileName = "cloudrole.lock"

// maxInfo bounds how much of a lock file is read: it holds two short lines.
const maxInfo = 4 << 10

// ErrHeld is wrapped by Acquire when another owner holds the directory.
var ErrHeld = errors.New("dirlock: directory held by another owner")

// Holder is what a lock file says about the owner that wrote it.
type Holder struct {
	PID int    // the holder's process ID; 0 if it was not written yet
	URL string // where the holder serves the directory; "" if none
}

// HeldError is returned by Acquire when the directory is held. It wraps
// ErrHeld.
type HeldError struct {
	Dir    string
	Holder Holder // as far as the holder had written it
}

// Error names the directory and, when known, the holder's PID and URL.
func (e *HeldError) Error() string {
	who := "another process (its PID not recorded yet)"
	if e.Holder.PID != 0 {
		who = "process " + strconv.Itoa(e.Holder.PID)
	}
	if e.Holder.URL != "" {
		who += ", serving " + e.Holder.URL
	}
	return fmt.Sprintf("%s is locked by %s", e.Dir, who)
}

// Unwrap returns ErrHeld.
func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held directory lock. Its methods are safe for concurrent use.
type Lock struct {
	dir string
	pid int

	mu  sync.Mutex
	f   *os.File // nil once released
	url string
}

// Acquire creates dir (mode 0750) if needed and takes its lock without
// waiting. On success the lock file holds this process's PID. If another
// owner, in this or another process, holds the lock, Acquire returns a
// *HeldError (wrapping ErrHeld) with the PID and URL that owner recorded.
// Other errors name the lock file.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// No O_TRUNC: the file is emptied only once the lock is ours, so the
	// holder's record survives a failed attempt.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	if err := lockFile(f); err != nil {
		h := readHolder(f)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &HeldError{Dir: dir, Holder: h}
		}
		return nil, fmt.Errorf("dirlock: lock %s: %w", path, err)
	}
	l := &Lock{dir: dir, pid: os.Getpid(), f: f}
	if err := l.writeLocked(); err != nil {
		unlockFile(f)
		f.Close()
		return nil, err
	}
	return l, nil
}

// Dir returns the locked directory.
func (l *Lock) Dir() string { return l.dir }

// SetURL records url as where this holder serves the directory, for
// Inspect and for the error of a later Acquire. It fails after Release.
func (l *Lock) SetURL(url string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("dirlock: %s: lock released", l.dir)
	}
	l.url = url
	return l.writeLocked()
}

// writeLocked writes the record. The record only grows during a hold (the
// PID, then the PID and the URL), so a reader racing with the write sees a
// prefix of it, never a mix of two records. l.mu is held, or l is not
// shared yet.
func (l *Lock) writeLocked() error {
	rec := "pid=" + strconv.Itoa(l.pid) + "\n"
	if l.url != "" {
		rec += "url=" + l.url + "\n"
	}
	if _, err := l.f.WriteAt([]byte(rec), 0); err != nil {
		return fmt.Errorf("dirlock: write %s: %w", l.f.Name(), err)
	}
	// A longer record of an earlier holder may follow ours.
	if err := l.f.Truncate(int64(len(rec))); err != nil {
		return fmt.Errorf("dirlock: write %s: %w", l.f.Name(), err)
	}
	return nil
}

// Release gives the lock up. The record stays in the file (Inspect reports
// it as the last holder). Idempotent.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Closing alone would release the lock too; unlocking first says so
	// explicitly and reports a failure.
	uerr := unlockFile(f)
	cerr := f.Close()
	if err := errors.Join(uerr, cerr); err != nil {
		return fmt.Errorf("dirlock: release %s: %w", l.dir, err)
	}
	return nil
}

// Inspect reads dir's lock file without keeping the lock: it returns the
// holder recorded there and whether an owner holds the lock now (held). A
// recorded holder with held false is the last one, gone. A directory that
// was never locked gives a zero Holder, held false and a nil error.
//
// To learn whether the lock is held, Inspect takes it for a moment when it
// is free; an Acquire at that very moment fails as if the directory were
// held by a process whose PID is not recorded yet.
func Inspect(dir string) (h Holder, held bool, err error) {
	f, err := os.Open(filepath.Join(dir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, fmt.Errorf("dirlock: %w", err)
	}
	defer f.Close()
	switch err := lockFile(f); {
	case err == nil:
		unlockFile(f)
	case errors.Is(err, errWouldBlock):
		held = true
	default:
		return Holder{}, false, fmt.Errorf("dirlock: lock %s: %w", f.Name(), err)
	}
	return readHolder(f), held, nil
}

// readHolder parses the record at the start of f; what it cannot parse it
// leaves zero.
func readHolder(f *os.File) Holder {
	b := make([]byte, maxInfo)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Holder{}
	}
	var h Holder
	for _, line := range strings.Split(string(b[:n]), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "url":
			h.URL = v
		}
	}
	return h
}
