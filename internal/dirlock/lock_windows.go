//go:build windows

package dirlock

import (
	"os"

	"golang.org/x/sys/windows"
)

// errWouldBlock says the lock is held by another handle.
var errWouldBlock error = windows.ERROR_LOCK_VIOLATION

// lockOffset is where the one locked byte lies: far past the record, since
// Windows locks are mandatory and a locked range cannot be read by others,
// who must still read the holder's PID and URL.
const lockOffset = 1 << 62

func lockRange() *windows.Overlapped {
	return &windows.Overlapped{Offset: uint32(lockOffset & 0xffffffff), OffsetHigh: uint32(lockOffset >> 32)}
}

// lockFile takes an exclusive LockFileEx lock on one byte of f without
// waiting. Windows releases it when the handle closes, including when the
// process dies.
func lockFile(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, lockRange())
}

func unlockFile(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, lockRange())
}
