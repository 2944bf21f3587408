//go:build linux

package queue

import (
	"os"

	"golang.org/x/sys/unix"
)

// newStoreCommitter returns a group committer for the store in dir, and
// the file it holds open (closed by the caller after the committer).
func newStoreCommitter(dir string) (*committer, *os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	fd := int(f.Fd())
	return newCommitter(func() error { return unix.Syncfs(fd) }), f, nil
}
