package window

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// sketchCPU measures the CPU time of a benchmark's own thread, which, unlike
// ns/op, leaves out the time other processes take the CPU from it: on a
// shared machine it is the steadier of the two figures.
type sketchCPU struct{ start time.Duration }

// sketchRusageThread is Linux's RUSAGE_THREAD, which package syscall does not
// name.
const sketchRusageThread = 1

func sketchThreadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(sketchRusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startSketchCPU pins the goroutine to its thread until stop.
func startSketchCPU() *sketchCPU {
	runtime.LockOSThread()
	return &sketchCPU{start: sketchThreadCPU()}
}

// stop reports the thread's CPU time per iteration as cpu-ns/op.
func (c *sketchCPU) stop(b *testing.B) {
	d := sketchThreadCPU() - c.start
	runtime.UnlockOSThread()
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
