package window

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/topk"
)

// t0 is a fixed instant on a whole second, so that bucket boundaries in the
// tests below are easy to read.
var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func TestNewCounterErrors(t *testing.T) {
	tests := []struct {
		name         string
		size, bucket time.Duration
	}{
		{"zero bucket", 10 * time.Second, 0},
		{"negative bucket", 10 * time.Second, -time.Second},
		{"zero size", 0, time.Second},
		{"negative size", -10 * time.Second, time.Second},
		{"size not a multiple of bucket", 10 * time.Second, 3 * time.Second},
		{"size shorter than bucket", time.Second, 10 * time.Second},
		{"too many buckets", time.Hour, time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCounter[string](tt.size, tt.bucket)
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("NewCounter(%v, %v) error = %v, want one wrapping ErrInvalidOption", tt.size, tt.bucket, err)
			}
			if c != nil {
				t.Errorf("NewCounter(%v, %v) returned a Counter with its error", tt.size, tt.bucket)
			}
		})
	}
}

func TestNewCounterHistoryErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"nil option", nil},
		{"negative history", WithHistory(-time.Second)},
		{"history not a multiple of bucket", WithHistory(1500 * time.Millisecond)},
		{"too many buckets with the history", WithHistory(maxCounterBuckets * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCounter[string](10*time.Second, time.Second, tt.opt)
			if !errors.Is(err, ErrInvalidOption) || c != nil {
				t.Fatalf("NewCounter with %s = %v, %v; want nil and an error wrapping ErrInvalidOption", tt.name, c, err)
			}
			t.Log(err)
		})
	}
	if _, err := NewCounter[string](10*time.Second, time.Second, WithHistory(0)); err != nil {
		t.Errorf("WithHistory(0): %v", err)
	}
}

func TestCounterReadErrors(t *testing.T) {
	c := mustCounter[string](t, 3*time.Second, time.Second, WithHistory(2*time.Second))
	if _, err := c.TopAt(t0, 1); !errors.Is(err, ErrEnd) {
		t.Errorf("TopAt before any Add: %v, want ErrEnd", err)
	}
	c.Add("a", t0.Add(10*time.Second), 1) // newest bucket [10s, 11s)
	for _, tc := range []struct {
		name string
		end  time.Duration
		ok   bool
	}{
		{"the newest bucket's end", 11 * time.Second, true},
		{"two buckets before it, as history allows", 9 * time.Second, true},
		{"three before", 8 * time.Second, false},
		{"a bucket after it", 12 * time.Second, false},
		{"within a bucket", 10*time.Second + time.Millisecond, false},
	} {
		_, err := c.TopAt(t0.Add(tc.end), 1)
		_, terr := c.TotalAt(t0.Add(tc.end))
		if tc.ok != (err == nil) || tc.ok != (terr == nil) || (err != nil && !errors.Is(err, ErrEnd)) {
			t.Errorf("%s: TopAt: %v, TotalAt: %v", tc.name, err, terr)
		}
		t.Log(err)
	}
}

func TestNewCounterLargestWindow(t *testing.T) {
	if _, err := NewCounter[string](maxCounterBuckets*time.Second, time.Second); err != nil {
		t.Fatalf("NewCounter with %d buckets: %v", maxCounterBuckets, err)
	}
}

func mustCounter[K cmp.Ordered](t testing.TB, size, bucket time.Duration, opts ...Option) *Counter[K] {
	t.Helper()
	c, err := NewCounter[K](size, bucket, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCounterBeforeAnyTime(t *testing.T) {
	c := mustCounter[string](t, 10*time.Second, time.Second)
	start, end := c.Bounds()
	if !start.IsZero() || !end.IsZero() {
		t.Errorf("Bounds() before any time = %v, %v; want zero times", start, end)
	}
	if c.Len() != 0 || c.Total() != 0 || c.Count("a") != 0 || c.Top(3) != nil {
		t.Errorf("empty Counter: Len %d, Total %d, Count %d, Top %v", c.Len(), c.Total(), c.Count("a"), c.Top(3))
	}
}

func TestCounterSlidesAndExpires(t *testing.T) {
	c := mustCounter[string](t, 3*time.Second, time.Second)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	check := func(step string, want map[string]int64, wantStart, wantEnd time.Time) {
		t.Helper()
		var total int64
		for k, n := range want {
			total += n
			if got := c.Count(k); got != n {
				t.Errorf("%s: Count(%q) = %d, want %d", step, k, got, n)
			}
		}
		if c.Total() != total || c.Len() != len(want) {
			t.Errorf("%s: Total %d, Len %d; want %d, %d", step, c.Total(), c.Len(), total, len(want))
		}
		start, end := c.Bounds()
		if !start.Equal(wantStart) || !end.Equal(wantEnd) {
			t.Errorf("%s: Bounds() = [%v, %v), want [%v, %v)", step, start, end, wantStart, wantEnd)
		}
	}

	c.Add("a", at(500), 1)
	c.Add("b", at(1500), 2)
	c.Add("a", at(2999), 4)
	check("three buckets", map[string]int64{"a": 5, "b": 2}, t0, at(3000))

	if !c.Add("a", at(0), 10) {
		t.Fatal("Add into the oldest live bucket was refused")
	}
	check("late but live", map[string]int64{"a": 15, "b": 2}, t0, at(3000))

	c.Advance(at(3000)) // the bucket [t0, t0+1s) leaves
	check("advance one bucket", map[string]int64{"a": 4, "b": 2}, at(1000), at(4000))

	if c.Add("b", at(999), 1) {
		t.Error("Add into an expired bucket was counted")
	}
	c.Advance(at(1000)) // earlier than the newest bucket: nothing happens
	check("too late and advance back", map[string]int64{"a": 4, "b": 2}, at(1000), at(4000))

	c.Add("c", at(3*3600_000), 7) // a jump expires everything
	end := at(3*3600_000 + 1000)
	check("far jump", map[string]int64{"c": 7}, end.Add(-3*time.Second), end)
}

func TestCounterRetractions(t *testing.T) {
	c := mustCounter[string](t, 2*time.Second, time.Second)
	c.Add("a", t0, 3)
	c.Add("a", t0.Add(time.Second), -3)
	if c.Count("a") != 0 || c.Len() != 0 || c.Top(1) != nil {
		t.Fatalf("after retracting everything: Count %d, Len %d, Top %v", c.Count("a"), c.Len(), c.Top(1))
	}
	c.Advance(t0.Add(2 * time.Second)) // the +3 leaves; the -3 stays
	if c.Count("a") != -3 || c.Len() != 1 || c.Total() != -3 {
		t.Fatalf("after the +3 left: Count %d, Len %d, Total %d; want -3, 1, -3", c.Count("a"), c.Len(), c.Total())
	}
	c.Advance(t0.Add(3 * time.Second))
	if c.Count("a") != 0 || c.Len() != 0 || c.index.used != 0 {
		t.Fatalf("after both left: Count %d, Len %d, interned %d", c.Count("a"), c.Len(), c.index.used)
	}
}

func TestCounterOutOfOrder(t *testing.T) {
	// "a" is counted in bucket 0, then 1, then 0 again: the second Add into
	// bucket 0 must find the pair it already has there, not add another.
	c := mustCounter[string](t, 3*time.Second, time.Second)
	c.Add("b", t0, 1)
	c.Add("a", t0, 1)
	c.Add("a", t0.Add(time.Second), 10)
	c.Add("a", t0.Add(100*time.Millisecond), 100)
	c.Add("c", t0.Add(200*time.Millisecond), 1000) // appended after the lookup index was built
	c.Add("c", t0.Add(300*time.Millisecond), 1000)
	checkInvariants(t, c)
	if len(c.ring[0].ids) != 3 {
		t.Errorf("bucket 0 holds %d pairs, want 3", len(c.ring[0].ids))
	}
	c.Advance(t0.Add(3 * time.Second)) // bucket 0 leaves with 101 of "a"
	if c.Count("a") != 10 || c.Count("b") != 0 || c.Count("c") != 0 || c.Total() != 10 {
		t.Errorf("after bucket 0 left: a %d, b %d, c %d, total %d; want 10, 0, 0, 10", c.Count("a"), c.Count("b"), c.Count("c"), c.Total())
	}
	checkInvariants(t, c)
}

func TestCounterBucketIndexWraps(t *testing.T) {
	// Counter keeps the low 32 bits of a key's newest bucket index; they wrap
	// where the index crosses 0 and 2^32, and must still order the buckets.
	for _, first := range []int64{-1, 1<<32 - 1} {
		c := mustCounter[string](t, 4, 1) // four buckets of a nanosecond
		at := func(i int64) time.Time { return time.Unix(0, first+i) }
		c.Add("a", at(0), 1)
		c.Add("a", at(1), 10)  // newer, across the wrap
		c.Add("a", at(0), 100) // older: the pair already there
		c.Add("a", at(1), 1000)
		checkInvariants(t, c)
		if got := c.Count("a"); got != 1111 {
			t.Errorf("from %d: Count = %d, want 1111", first, got)
		}
		c.Advance(at(4)) // the bucket at 0 leaves
		if got := c.Count("a"); got != 1010 {
			t.Errorf("from %d: Count after the first bucket left = %d, want 1010", first, got)
		}
		checkInvariants(t, c)
	}
}

func TestCounterBeforeEpoch(t *testing.T) {
	// Buckets are aligned to the epoch on both sides of it: -1.5s lies in
	// the bucket [-2s, -1s), not [-1s, 0).
	c := mustCounter[int](t, 2*time.Second, time.Second)
	c.Add(1, time.Unix(0, -1500*int64(time.Millisecond)), 1)
	start, end := c.Bounds()
	if want := time.Unix(-3, 0); !start.Equal(want) {
		t.Errorf("start = %v, want %v", start, want)
	}
	if want := time.Unix(-1, 0); !end.Equal(want) {
		t.Errorf("end = %v, want %v", end, want)
	}
}

func TestCounterReusesIDs(t *testing.T) {
	// A stream of keys that never repeat must not grow the Counter beyond
	// what one window holds.
	c := mustCounter[int](t, 2*time.Second, time.Second)
	for i := range 10_000 {
		c.Add(i, t0.Add(time.Duration(i)*time.Millisecond), 1)
	}
	if c.Len() != 2000 {
		t.Errorf("Len() = %d, want 2000", c.Len())
	}
	if len(c.meta) > 3000 {
		t.Errorf("%d ids allocated for a window of 2000 keys", len(c.meta))
	}
	checkInvariants(t, c)
}

func TestCounterAddAllocs(t *testing.T) {
	c := mustCounter[string](t, 10*time.Second, time.Second)
	keys := []string{"a", "b", "c", "d", "e", "f"}
	i := 0
	add := func() {
		c.Add(keys[i%len(keys)], t0.Add(time.Duration(i)*time.Millisecond), 1)
		i++
	}
	for range 20_000 { // two windows: every bucket has grown to its size
		add()
	}
	if a := testing.AllocsPerRun(10_000, add); a != 0 {
		t.Errorf("Add allocates %v times per call in steady state", a)
	}
}

func TestCounterConcurrentReaders(t *testing.T) {
	// The reading methods are documented as safe to run together under a
	// read lock; the race detector checks that they write nothing.
	c := mustCounter[int](t, 10*time.Millisecond, time.Millisecond, WithHistory(2*time.Millisecond))
	var mu sync.RWMutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 2000 {
				mu.RLock()
				c.Top(3)
				c.Count(i % 7)
				c.Total()
				c.Len()
				_, end := c.Bounds()
				c.TopAt(end.Add(-time.Millisecond), 3)
				c.TotalAt(end.Add(-2 * time.Millisecond))
				mu.RUnlock()
			}
		})
	}
	for i := range 5000 {
		mu.Lock()
		c.Add(i%7, t0.Add(time.Duration(i)*100*time.Microsecond), 1)
		mu.Unlock()
	}
	wg.Wait()
}

// counterModel is the naive reference: the list of every event counted and
// the newest bucket seen; a count is the sum of the events still inside.
// With history, an event is counted while its bucket is retained, and
// countsAt sums the events of any window, as an offline count would.
type counterModel struct {
	buckets int64
	history int64
	bucket  time.Duration
	started bool
	newest  int64
	events  []modelEvent
}

type modelEvent struct {
	key    string
	bucket int64
	n      int64
}

func (m *counterModel) see(b int64) {
	if !m.started || b > m.newest {
		m.started, m.newest = true, b
	}
}

func (m *counterModel) retained(b int64) bool { return b > m.newest-m.buckets-m.history }

func (m *counterModel) add(key string, b, n int64) bool {
	m.see(b)
	if !m.retained(b) {
		return false
	}
	m.events = append(m.events, modelEvent{key, b, n})
	return true
}

func (m *counterModel) counts() map[string]int64 { return m.countsAt(m.newest + 1) }

// countsAt returns the counts of the window ending at the start of bucket
// end.
func (m *counterModel) countsAt(end int64) map[string]int64 {
	counts := map[string]int64{}
	for _, e := range m.events {
		if e.bucket >= end-m.buckets && e.bucket < end {
			counts[e.key] += e.n
		}
	}
	maps.DeleteFunc(counts, func(_ string, n int64) bool { return n == 0 })
	return counts
}

// readable reports whether the window ending at the start of bucket end can
// be read.
func (m *counterModel) readable(end int64) bool {
	return m.started && end <= m.newest+1 && end >= m.newest+1-m.history
}

func (m *counterModel) top(k int) []topk.Entry[string] { return m.topAt(m.newest+1, k) }

func (m *counterModel) topAt(end int64, k int) []topk.Entry[string] {
	var all []topk.Entry[string]
	for key, n := range m.countsAt(end) {
		all = append(all, topk.Entry[string]{Key: key, Count: n})
	}
	slices.SortFunc(all, func(a, b topk.Entry[string]) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return all[:max(0, min(k, len(all)))]
}

var modelKeys = []string{"", "a", "b", "c", "d", "e", "f", "g"}

func TestCounterMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bucket := rapid.SampledFrom([]time.Duration{time.Nanosecond, 7 * time.Millisecond, time.Second, time.Minute}).Draw(t, "bucket")
		nb := rapid.IntRange(1, 6).Draw(t, "buckets")
		hb := rapid.SampledFrom([]int{0, 0, 1, 2, 3, 7}).Draw(t, "history")
		c, err := NewCounter[string](time.Duration(nb)*bucket, bucket, WithHistory(time.Duration(hb)*bucket))
		if err != nil {
			t.Fatal(err)
		}
		m := &counterModel{buckets: int64(nb), history: int64(hb), bucket: bucket}
		// Times are drawn as (bucket index, offset within it), so the model
		// knows each time's bucket without computing it.
		base := rapid.Int64Range(-100_000, 100_000).Draw(t, "base")
		if bucket <= time.Second && rapid.Bool().Draw(t, "edge") {
			// Where bucket indices cross a multiple of 2^32, the low 32 bits
			// the Counter keeps per key wrap around.
			base = rapid.SampledFrom([]int64{-2, 1<<32 - 3, -(1 << 32) - 2}).Draw(t, "edgeBase")
		}
		// Few keys make the paths for a key already counted in the bucket
		// (in order and out of order) common.
		keys := modelKeys[:rapid.IntRange(1, len(modelKeys)).Draw(t, "keys")]
		at := func(t *rapid.T) (time.Time, int64) {
			ref := base
			if m.started {
				ref = m.newest
			}
			var b int64
			switch rapid.IntRange(0, 9).Draw(t, "when") {
			case 0: // far future: everything expires
				b = ref + rapid.Int64Range(int64(nb), 1_000_000).Draw(t, "jump")
			case 1: // far too late
				b = ref - rapid.Int64Range(int64(nb+hb), 1_000_000).Draw(t, "late")
			default: // around the window's and history's edges, out of order included
				b = ref + rapid.Int64Range(-int64(nb+hb)-1, 2).Draw(t, "delta")
			}
			off := rapid.Int64Range(0, int64(bucket)-1).Draw(t, "offset")
			return time.Unix(0, b*int64(bucket)+off), b
		}

		t.Repeat(map[string]func(*rapid.T){
			"Add": func(t *rapid.T) {
				key := rapid.SampledFrom(keys).Draw(t, "key")
				n := rapid.Int64Range(-3, 5).Draw(t, "n")
				tm, b := at(t)
				want := m.add(key, b, n)
				if got := c.Add(key, tm, n); got != want {
					t.Fatalf("Add(%q, %v, %d) = %v, want %v", key, tm, n, got, want)
				}
			},
			"Advance": func(t *rapid.T) {
				tm, b := at(t)
				m.see(b)
				c.Advance(tm)
			},
			"TopAt": func(t *rapid.T) {
				// Ends around those that can be read, on a boundary or not.
				e := m.newest + 1 - rapid.Int64Range(-2, int64(hb)+2).Draw(t, "age")
				off := time.Duration(0)
				if bucket > 1 && rapid.IntRange(0, 5).Draw(t, "misaligned") == 0 {
					off = time.Duration(rapid.Int64Range(1, int64(bucket)-1).Draw(t, "off"))
				}
				end := time.Unix(0, e*int64(bucket)).Add(off)
				k := rapid.IntRange(-1, len(modelKeys)+1).Draw(t, "k")
				top, err := c.TopAt(end, k)
				total, terr := c.TotalAt(end)
				if !m.readable(e) || off != 0 {
					if !errors.Is(err, ErrEnd) || !errors.Is(terr, ErrEnd) || top != nil {
						t.Fatalf("TopAt(%v, %d) = %v, %v and TotalAt = %v; want errors wrapping ErrEnd", end, k, top, err, terr)
					}
					return
				}
				if err != nil || terr != nil {
					t.Fatalf("TopAt(%v, %d): %v; TotalAt: %v", end, k, err, terr)
				}
				if diff := gocmp.Diff(m.topAt(e, k), top, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("TopAt(%v, %d) mismatch (-want +got):\n%s", end, k, diff)
				}
				var want int64
				for _, n := range m.countsAt(e) {
					want += n
				}
				if total != want {
					t.Fatalf("TotalAt(%v) = %d, want %d", end, total, want)
				}
			},
			"Top": func(t *rapid.T) {
				k := rapid.IntRange(-1, len(modelKeys)+1).Draw(t, "k")
				if diff := gocmp.Diff(m.top(k), c.Top(k), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("Top(%d) mismatch (-want +got):\n%s", k, diff)
				}
			},
			"All": func(t *rapid.T) {
				want := m.counts()
				got := map[string]int64{}
				for k, n := range c.All() {
					if _, twice := got[k]; twice {
						t.Fatalf("All yields %q twice", k)
					}
					got[k] = n
				}
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Fatalf("All mismatch (-want +got):\n%s", diff)
				}
				stop := rapid.IntRange(1, len(want)+1).Draw(t, "stop")
				calls := 0
				c.All()(func(string, int64) bool { calls++; return calls < stop })
				if calls != min(stop, len(want)) {
					t.Fatalf("All of %d keys told to stop at %d yields %d", len(want), stop, calls)
				}
			},
			"": func(t *rapid.T) {
				want := m.counts()
				got := map[string]int64{}
				for _, k := range modelKeys {
					if n := c.Count(k); n != 0 {
						got[k] = n
					}
				}
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Fatalf("Count mismatch (-want +got):\n%s", diff)
				}
				var total int64
				for _, n := range want {
					total += n
				}
				if c.Total() != total || c.Len() != len(want) {
					t.Fatalf("Total %d, Len %d; want %d, %d", c.Total(), c.Len(), total, len(want))
				}
				var wantStart, wantEnd time.Time
				if m.started {
					wantStart = time.Unix(0, (m.newest-m.buckets+1)*int64(bucket))
					wantEnd = time.Unix(0, (m.newest+1)*int64(bucket))
				}
				start, end := c.Bounds()
				if diff := gocmp.Diff([]time.Time{wantStart, wantEnd}, []time.Time{start, end}); diff != "" {
					t.Fatalf("Bounds mismatch (-want +got):\n%s", diff)
				}
				checkInvariants(t, c)
				// Every window that can be read, exactly.
				for e := m.newest + 1 - int64(hb); m.started && e <= m.newest+1; e++ {
					at := time.Unix(0, e*int64(bucket))
					top, err := c.TopAt(at, len(modelKeys))
					if err != nil {
						t.Fatalf("TopAt(%v): %v", at, err)
					}
					if diff := gocmp.Diff(m.topAt(e, len(modelKeys)), top, cmpopts.EquateEmpty()); diff != "" {
						t.Fatalf("TopAt(%v) mismatch (-want +got):\n%s", at, diff)
					}
				}
			},
		})
	})
}

// checkInvariants verifies the Counter's internal bookkeeping, which the
// model cannot see: each live bucket holds at most one pair per id, totals
// are the sums of the window's pairs, last points at each id's newest pair
// (in the history too), and no id outlives its last pair.
func checkInvariants[K cmp.Ordered](t interface {
	Helper()
	Fatalf(string, ...any)
}, c *Counter[K]) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("invariant: "+format, args...)
	}
	sums := make([]int64, len(c.meta))
	newest := make([]counterKey[K], len(c.meta))
	pairs := make([]int, len(c.meta))
	var total int64
	for back := range len(c.ring) {
		slot := (c.head - back + len(c.ring)) % len(c.ring)
		abs := c.newest - int64(back)
		bk := c.ring[slot]
		if len(bk.ids) != len(bk.counts) {
			fail("bucket %d has %d ids and %d counts", abs, len(bk.ids), len(bk.counts))
		}
		seen := map[int32]bool{}
		for i, id := range bk.ids {
			if seen[id] {
				fail("bucket %d holds id %d twice", abs, id)
			}
			seen[id] = true
			if bk.index != nil && bk.index[id] != int32(i) {
				fail("bucket %d index says id %d is at %d, it is at %d", abs, id, bk.index[id], i)
			}
			if back < c.window { // the history's counts are not in the totals
				sums[id] += bk.counts[i]
				total += bk.counts[i]
			}
			if pairs[id] == 0 {
				newest[id] = counterKey[K]{bucket: uint32(abs), pos: int32(i)}
			}
			pairs[id]++
		}
		if bk.index != nil && len(bk.index) != len(bk.ids) {
			fail("bucket %d index has %d entries for %d pairs", abs, len(bk.index), len(bk.ids))
		}
	}
	interned := checkIndex(t, c)
	if len(interned)+len(c.free) != len(c.meta) {
		fail("%d interned + %d free ids, %d allocated", len(interned), len(c.free), len(c.meta))
	}
	live := 0
	for _, id := range interned {
		key := c.meta[id].key
		if got, _, ok := c.lookup(key); !ok || got != id {
			fail("key %v of id %d is found as %d, %v", key, id, got, ok)
		}
		if pairs[id] == 0 {
			fail("key %v is interned but no bucket counts it", key)
		}
		if m := c.meta[id]; m.bucket != newest[id].bucket || m.pos != newest[id].pos {
			fail("key %v: newest pair recorded at %d/%d, found at %d/%d", key, m.bucket, m.pos, newest[id].bucket, newest[id].pos)
		}
		if c.meta[id].total != sums[id] {
			fail("key %v: total %d, pairs sum to %d", key, c.meta[id].total, sums[id])
		}
		if c.meta[id].total != 0 {
			live++
		}
	}
	for _, id := range c.free {
		if slices.Contains(interned, id) {
			fail("id %d is both free and interned", id)
		}
		if pairs[id] != 0 || c.meta[id].total != 0 {
			fail("free id %d still has %d pairs, total %d", id, pairs[id], c.meta[id].total)
		}
	}
	if c.live != live || c.total != total {
		fail("live %d, total %d; want %d, %d", c.live, c.total, live, total)
	}
}

// checkIndex verifies the hash index and returns the ids in it: each is
// there once, under its key's hash, and reachable from the hash's home slot
// without crossing an empty one.
func checkIndex[K cmp.Ordered](t interface {
	Helper()
	Fatalf(string, ...any)
}, c *Counter[K]) []int32 {
	t.Helper()
	x := c.index
	if n := len(x.slots); n < minIndexSlots || n&(n-1) != 0 || 2*x.used > n {
		t.Fatalf("index: %d slots for %d ids", n, x.used)
	}
	mask := uint32(len(x.slots) - 1)
	var ids []int32
	for i, s := range x.slots {
		if s.id1 == 0 {
			continue
		}
		id := s.id1 - 1
		if slices.Contains(ids, id) {
			t.Fatalf("index: id %d twice", id)
		}
		ids = append(ids, id)
		if h := uint32(maphash.Comparable(c.seed, c.meta[id].key)); s.hash != h || c.meta[id].hash != h {
			t.Fatalf("index: id %d stored under hash %x, recorded %x, key hashes to %x", id, s.hash, c.meta[id].hash, h)
		}
		for j := s.hash & mask; j != uint32(i); j = (j + 1) & mask {
			if x.slots[j].id1 == 0 {
				t.Fatalf("index: id %d at %d is cut off from its home %d by an empty slot at %d", id, i, s.hash&mask, j)
			}
		}
	}
	if len(ids) != x.used {
		t.Fatalf("index: %d ids in the slots, %d counted", len(ids), x.used)
	}
	return ids
}

func TestCounterTopMatchesSort(t *testing.T) {
	// Many keys and ties, so that Top's heap is deep and often replaced.
	rapid.Check(t, func(t *rapid.T) {
		c, err := NewCounter[string](4*time.Second, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		m := &counterModel{buckets: 4, bucket: time.Second}
		keys := rapid.IntRange(1, 200).Draw(t, "keys")
		for range rapid.IntRange(0, 400).Draw(t, "adds") {
			key := fmt.Sprint(rapid.IntRange(0, keys-1).Draw(t, "key"))
			b := rapid.Int64Range(0, 5).Draw(t, "bucket")
			n := rapid.Int64Range(-2, 6).Draw(t, "n")
			c.Add(key, t0.Add(time.Duration(b)*time.Second), n)
			m.add(key, bucketOf(t0, time.Second)+b, n)
		}
		k := rapid.IntRange(0, keys+1).Draw(t, "k")
		if diff := gocmp.Diff(m.top(k), c.Top(k), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Top(%d) mismatch (-want +got):\n%s", k, diff)
		}
	})
}
