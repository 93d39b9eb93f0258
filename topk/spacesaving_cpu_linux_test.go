package topk_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// spacesavingCPU measures the CPU time of a benchmark's own thread, which, unlike
// ns/op, leaves out the time other processes take the CPU from it: on a
// shared machine it is the steadier of the two figures.
type spacesavingCPU struct{ start time.Duration }

// spacesavingRusageThread is Linux's RUSAGE_THREAD, which package syscall does not
// name.
const spacesavingRusageThread = 1

func spacesavingThreadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(spacesavingRusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startSpacesavingCPU pins the goroutine to its thread until stop.
func startSpacesavingCPU() *spacesavingCPU {
	runtime.LockOSThread()
	return &spacesavingCPU{start: spacesavingThreadCPU()}
}

// stop reports the thread's CPU time per iteration as cpu-ns/op.
func (c *spacesavingCPU) stop(b *testing.B) {
	d := spacesavingThreadCPU() - c.start
	runtime.UnlockOSThread()
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
