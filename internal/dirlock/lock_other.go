//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd || windows)

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errWouldBlock is never returned here; it keeps the shared code simple.
var errWouldBlock = errors.New("dirlock: would block")

// lockFile refuses: without an OS lock that dies with the process, a
// directory cannot be protected, and pretending would lose data silently.
func lockFile(*os.File) error {
	return fmt.Errorf("no directory lock on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func unlockFile(*os.File) error { return nil }
