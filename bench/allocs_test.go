package bench

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
	"github.com/streamtop/streamtop/window"
)

// adder is one structure's hot path, record i of a stream at its time.
type adder func(key string, t time.Time)

// guarded are the structures whose Add must not allocate once warm: the
// keys are known, the buckets have grown to their working size, the summary
// is full. sketch_test.go adds window.Sketch.
var guarded = []guard{
	{name: "Exact", make: func(testing.TB) adder {
		e := topk.NewExact[string]()
		return func(k string, _ time.Time) { e.Add(k, 1) }
	}},
	{name: "SpaceSaving", make: func(tb testing.TB) adder {
		s, err := topk.NewSpaceSaving[string](256)
		if err != nil {
			tb.Fatal(err)
		}
		return func(k string, _ time.Time) { s.Add(k, 1) }
	}},
	{name: "Counter", make: func(tb testing.TB) adder {
		c, err := window.NewCounter[string](guardWindow, guardBucket)
		if err != nil {
			tb.Fatal(err)
		}
		return func(k string, t time.Time) { c.Add(k, t, 1) }
	}},
}

type guard struct {
	name string
	make func(testing.TB) adder
	// perSlide is how many allocations a slide of the window by one bucket
	// may make. Only Sketch's is not 0: a slide merges SpaceSavings, and
	// topk.SpaceSaving.Merge documents a temporary slice.
	perSlide int
}

// The guard's window: 10 buckets of 1 ms, records 1 µs apart, so a window
// holds 10,000 records and the measured Adds slide it many times.
const (
	guardWindow = 10 * time.Millisecond
	guardBucket = time.Millisecond
	guardStep   = time.Microsecond
)

// TestAddDoesNotAllocate is the guard of the hot path: a structure whose
// Add allocates after warm-up fails here, whatever the benchmarks' timing.
// It is a test, not a benchmark, so it runs in CI. An Add within the newest
// bucket must never allocate; an Add that slides the window may allocate
// only what the structure's perSlide allows.
func TestAddDoesNotAllocate(t *testing.T) {
	// Zipf over 5,000 keys: a few hundred distinct keys per bucket, more
	// than the summary holds, so SpaceSaving evicts throughout.
	keys := workload.ZipfStream(1.1, 5000, 200_000, 9)
	for _, g := range guarded {
		t.Run(g.name, func(t *testing.T) {
			add := g.make(t)
			i := 0
			at := func(i int) time.Time { return t0.Add(time.Duration(i) * guardStep) }
			for range len(keys) { // warm-up: every key seen, 20 windows slid
				add(keys[i%len(keys)], at(i))
				i++
			}
			const runs = 100_000
			// AllocsPerRun rounds down to whole allocations per call, so
			// the total is what catches an Add that allocates once in a
			// while.
			sliding := func() {
				add(keys[i%len(keys)], at(i))
				i++
			}
			total := mallocs(func() {
				if a := testing.AllocsPerRun(runs, sliding); a != 0 {
					t.Errorf("%s.Add allocates %v times per call", g.name, a)
				}
			})
			slides := uint64(runs * guardStep / guardBucket)
			if total > uint64(g.perSlide)*slides {
				t.Errorf("%s.Add allocates %d times in %d calls that slid the window %d times; allowed %d per slide", g.name, total, runs, slides, g.perSlide)
			}
			now := at(i - 1) // every Add below lands in the newest bucket
			within := func() {
				add(keys[i%len(keys)], now)
				i++
			}
			for range len(keys) { // every key now in the newest bucket too
				within()
			}
			if total := mallocs(func() { testing.AllocsPerRun(runs, within) }); total != 0 {
				t.Errorf("%s.Add within the newest bucket allocates %d times in %d calls", g.name, total, runs)
			}
		})
	}
}

// mallocs returns the fewest heap allocations counted over three calls of
// f. The count is the whole process's, so the runtime's own rare allocations
// (starting the GC's workers, say) can land in one call; an allocation of
// the code under test lands in every call.
func mallocs(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.Mallocs-before.Mallocs)
	}
	return least
}
