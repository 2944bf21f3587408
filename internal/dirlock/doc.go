// Package dirlock gives a directory to one owner at a time: an exclusive
// lock on a file inside it (FileName), taken without waiting, held until
// Release, and released by the operating system when the owning process
// dies, so a SIGKILL never leaves a stale lock. It uses flock(2) on unix
// and LockFileEx on Windows; elsewhere Acquire fails with an error
// wrapping errors.ErrUnsupported rather than pretend to protect.
//
// The lock file also says who holds it: the holder's PID, written at
// Acquire, and a URL at which the holder serves the directory, written by
// SetURL (the queue package records the embedded NATS server's client URL
// there). A second Acquire returns a *HeldError carrying both, as far as
// the holder had written them; Inspect reads them without keeping the lock.
//
// The lock belongs to the open file, not to the process: a second Acquire
// of the same directory from the same process fails like one from another
// process. A directory must therefore have exactly one owner per process
// (in cloudrole, the queue.Provider). The file is opened close-on-exec, so
// child processes never inherit, and never prolong, the lock.
//
// Locks are advisory: they stop only processes that use this package. On
// a network file system whether flock excludes other machines depends on
// the file system; the store of an embedded server belongs on local disk.
package dirlock
