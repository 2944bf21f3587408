package testutil

import (
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// TB stands in for the *testing.T that Example functions do not get, so an
// example can call a test kit (roletest) as a test would. It keeps the
// cleanups until Finish, makes temporary directories that a cleanup
// removes, drops Log output, and panics on Error and Fatal so that a failing
// example stops where it failed. It implements the methods roletest calls;
// any other panics (the embedded testing.TB is nil).
type TB struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
}

// NewTB returns a TB; defer its Finish.
func NewTB() *TB { return &TB{} }

// Finish runs the cleanups, the last registered first, as a test's end does.
func (t *TB) Finish() {
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		f()
	}
}

func (t *TB) Helper()      {}
func (t *TB) Name() string { return "Example" }

func (t *TB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *TB) TempDir() string {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *TB) Output() io.Writer         { return io.Discard }
func (t *TB) Log(...any)                {}
func (t *TB) Logf(string, ...any)       {}
func (t *TB) Error(args ...any)         { panic(fmt.Sprint(args...)) }
func (t *TB) Errorf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *TB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (t *TB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
