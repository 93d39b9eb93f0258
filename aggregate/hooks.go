package aggregate

import (
	"time"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/sink"
)

// windowsWritten tells the window hooks that the sink accepted snaps: each
// snapshot's latency is the time from its window's end (its Time, in record
// time) to now, on this process's clock, as a reader of the sink sees it.
// With no hook it reads no clock.
func (a *Aggregator) windowsWritten(snaps []sink.Snapshot) {
	if len(a.windowHooks) == 0 {
		return
	}
	now := time.Now()
	for _, s := range snaps {
		w := hook.Window{Group: s.Group, End: s.Time, Latency: now.Sub(s.Time)}
		for _, h := range a.windowHooks {
			h.OnWindow(w)
		}
	}
}
