//go:build unix

package lifecycle

import (
	"os"
	"syscall"
)

func sigterm() os.Signal { return syscall.SIGTERM }
