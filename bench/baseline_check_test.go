package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/internal/baseline"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/window"
)

// TestRingCountsWhatCounterCounts keeps the windowed baseline honest: if it
// counted other records than window.Counter, the ratios between them would
// compare different work.
func TestRingCountsWhatCounterCounts(t *testing.T) {
	keys := workload.ZipfStream(1.1, 1000, 50_000, 2)
	const size, bucket, step = 5 * time.Millisecond, time.Millisecond, 7 * time.Microsecond
	r, err := baseline.NewRing[string](size, bucket)
	if err != nil {
		t.Fatal(err)
	}
	c, err := window.NewCounter[string](size, bucket)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		tm := t0.Add(time.Duration(i) * step)
		if i%10 == 3 { // some late records, some of them too late
			tm = tm.Add(-time.Duration(i%7) * time.Millisecond)
		}
		if got, want := r.Add(k, tm, 1), c.Add(k, tm, 1); got != want {
			t.Fatalf("record %d: ring Add = %v, Counter Add = %v", i, got, want)
		}
		if i%997 == 0 {
			if d := cmp.Diff(c.Top(20), r.Top(20)); d != "" {
				t.Fatalf("record %d: Top(20) (-Counter +ring):\n%s", i, d)
			}
			if r.Total() != c.Total() || r.Len() != c.Len() {
				t.Fatalf("record %d: ring Total, Len = %d, %d; Counter %d, %d", i, r.Total(), r.Len(), c.Total(), c.Len())
			}
		}
	}
}
