package queue

import (
	"os"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports the process CPU time (user+system, server and client
// together: the server is in-process) per operation. On a shared machine
// wall time per job swings by tens of percent between runs; CPU per job
// is the steadier measure of what a change costs.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	if f := os.Getenv("CPUPROF"); f != "" {
		pf, _ := os.Create(f)
		pprof.StartCPUProfile(pf)
	}
	b.ResetTimer()
	return &cpuMeter{b: b, start: cpuTime()}
}

// stop stops the benchmark timer and reports cpu-ns/op.
func (m *cpuMeter) stop() {
	m.b.StopTimer()
	pprof.StopCPUProfile()
	used := cpuTime() - m.start
	m.b.ReportMetric(float64(used.Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
