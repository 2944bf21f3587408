//go:build !linux

package queue

import "os"

// newStoreCommitter returns no committer where the OS cannot sync a file
// system at once: the embedded server then fsyncs every write itself.
func newStoreCommitter(string) (*committer, *os.File, error) { return nil, nil, nil }
