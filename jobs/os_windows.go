//go:build windows

package jobs

const isWindows = true
