package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncStore syncs the file system holding dir (what the queue's group
// commit does), so the clock includes putting the last writes on disk.
func syncStore(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
