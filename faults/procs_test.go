package faults

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// openFDs counts this process's open file descriptors (Linux only).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// children lists the live processes whose parent is this process, as
// "pid command" strings (Linux only). Zombies count: an unreaped child is a
// leak too.
func children(t *testing.T) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("process table scan needs /proc")
	}
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited while we looked
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) > 1 && f[1] == self {
			out = append(out, strings.TrimSpace(s[:end+1]))
		}
	}
	return out
}

// processesWithArg lists live processes (any parent) that have arg among
// their command-line arguments, as "pid: cmdline" strings. Grandchildren
// re-parented to init are found too (Linux only).
func processesWithArg(t *testing.T, arg string) []string {
	t.Helper()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		for _, a := range args {
			if a == arg {
				out = append(out, filepath.Base(filepath.Dir(p))+": "+strings.Join(args, " "))
				break
			}
		}
	}
	return out
}
