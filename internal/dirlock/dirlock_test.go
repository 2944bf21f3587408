package dirlock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Two owners in one process: the second Acquire fails with the first's
// PID and URL; after Release the directory can be locked again.
func TestSecondAcquireFailsUntilRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store") // Acquire creates it
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want a *HeldError wrapping ErrHeld", err)
	}
	if held.Holder.PID != os.Getpid() || held.Dir != dir {
		t.Fatalf("held error %+v, want PID %d and dir %s", held, os.Getpid(), dir)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, strconv.Itoa(os.Getpid())) {
		t.Fatalf("error %q does not name the directory and the holder's PID", msg)
	}

	const url = "nats://127.0.0.1:4222"
	if err := first.SetURL(url); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	if !errors.As(err, &held) || held.Holder.URL != url || !strings.Contains(err.Error(), url) {
		t.Fatalf("Acquire after SetURL: %v, want the holder's URL %s", err, url)
	}
	h, isHeld, err := Inspect(dir)
	if err != nil || !isHeld || h.PID != os.Getpid() || h.URL != url {
		t.Fatalf("Inspect while held: %+v held=%v err=%v", h, isHeld, err)
	}

	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if err := first.SetURL(url); err == nil {
		t.Fatal("SetURL after Release succeeded")
	}
	h, isHeld, err = Inspect(dir)
	if err != nil || isHeld || h.PID != os.Getpid() {
		t.Fatalf("Inspect after Release: %+v held=%v err=%v, want the last holder, not held", h, isHeld, err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer again.Release()
	// A new holder's record replaces the old one: no URL until it sets one.
	if h, _, _ := Inspect(dir); h.URL != "" {
		t.Fatalf("the new holder inherited the old URL %q", h.URL)
	}
}

func TestInspectNeverLocked(t *testing.T) {
	dir := t.TempDir()
	h, held, err := Inspect(dir)
	if err != nil || held || h != (Holder{}) {
		t.Fatalf("Inspect of a fresh dir: %+v held=%v err=%v", h, held, err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Inspect created the lock file: %v", err)
	}
}

func TestAcquireNamesUnusableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(filepath.Join(file, "store"))
	if err == nil || errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), file) {
		t.Fatalf("Acquire under a file: %v, want an error naming %s", err, file)
	}
}
