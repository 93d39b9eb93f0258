package window

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/topk"
)

// sketchOp is one generated call: an Add of n to key at offset from the
// latest time, or an Advance by offset.
type sketchOp struct {
	advance bool
	key     int
	n       int64
	offset  time.Duration
}

func sketchOps(bucket time.Duration, buckets, keys int) *rapid.Generator[[]sketchOp] {
	return rapid.Custom(func(t *rapid.T) []sketchOp {
		heavy := rapid.IntRange(0, 100).Draw(t, "heavyPercent")
		maxW := rapid.SampledFrom([]int64{1, 1, 4}).Draw(t, "maxWeight")
		ops := make([]sketchOp, rapid.IntRange(0, 150).Draw(t, "len"))
		for i := range ops {
			var op sketchOp
			// Mostly within the newest bucket or just after it; sometimes
			// late (into older buckets or past the window), sometimes a
			// jump over the whole window.
			switch rapid.IntRange(0, 9).Draw(t, "when") {
			case 0:
				op.offset = -time.Duration(rapid.IntRange(0, (buckets+1)*1000).Draw(t, "late")) * bucket / 1000
			case 1:
				op.offset = time.Duration(rapid.IntRange(0, 3*buckets).Draw(t, "jump")) * bucket
			default:
				op.offset = time.Duration(rapid.IntRange(0, 1500).Draw(t, "step")) * bucket / 1000
			}
			op.advance = rapid.IntRange(0, 9).Draw(t, "advance") == 0
			op.key = rapid.IntRange(0, keys-1).Draw(t, "key")
			if rapid.IntRange(0, 99).Draw(t, "skew") < heavy {
				op.key %= 2
			}
			op.n = rapid.Int64Range(1, maxW).Draw(t, "n")
			ops[i] = op
		}
		return ops
	})
}

// TestSketchBounds runs the same operations on a Sketch and an exact Counter
// and checks, after each, every guarantee of the Sketch against the exact
// counts of the window, and of every past window its history keeps.
func TestSketchBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const keys = 24
		bucket := time.Second
		nb := rapid.IntRange(1, 6).Draw(t, "buckets")
		hb := rapid.SampledFrom([]int{0, 0, 1, 2, 3, 8}).Draw(t, "history")
		capacity := rapid.IntRange(1, 8).Draw(t, "capacity")
		// Before and after the epoch, and not aligned to a bucket.
		t0 := time.Unix(rapid.SampledFrom([]int64{1_700_000_000, -86_400}).Draw(t, "t0"), 123_456_789)
		ops := sketchOps(bucket, nb+hb, keys).Draw(t, "ops")

		s, err := NewSketch[int](time.Duration(nb)*bucket, bucket, capacity, WithHistory(time.Duration(hb)*bucket))
		if err != nil {
			t.Fatal(err)
		}
		exact, err := NewCounter[int](time.Duration(nb)*bucket, bucket, WithHistory(time.Duration(hb)*bucket))
		if err != nil {
			t.Fatal(err)
		}
		latest := t0
		for i, op := range ops {
			at := latest.Add(op.offset)
			if at.After(latest) {
				latest = at
			}
			if op.advance {
				s.Advance(at)
				exact.Advance(at)
			} else if got, want := s.Add(op.key, at, op.n), exact.Add(op.key, at, op.n); got != want {
				t.Fatalf("op %d: Add(%d, %v, %d) = %v, Counter says %v", i, op.key, at, op.n, got, want)
			}
			checkSketch(t, s, exact, capacity, keys)
			checkSketchAt(t, s, exact, capacity, keys)
		}
	})
}

// checkSketchAt checks TopAt and TotalAt against the exact Counter, which
// keeps the same history, at every end that can be read, and a bucket
// before and after them.
func checkSketchAt(t *rapid.T, s *Sketch[int], exact *Counter[int], capacity, keys int) {
	t.Helper()
	_, newestEnd := s.Bounds()
	h := len(s.panes) - s.window
	for age := -1; age <= h+1; age++ {
		end := newestEnd.Add(-time.Duration(age) * s.bucket)
		top, err := s.TopAt(end, capacity)
		total, terr := s.TotalAt(end)
		if age < 0 || age > h || !s.started {
			if !errors.Is(err, ErrEnd) || !errors.Is(terr, ErrEnd) {
				t.Fatalf("TopAt(%v) = %v, TotalAt = %v; want errors wrapping ErrEnd", end, err, terr)
			}
			continue
		}
		if err != nil || terr != nil {
			t.Fatalf("TopAt(%v): %v; TotalAt: %v", end, err, terr)
		}
		want := map[int]int64{}
		wantTop, _ := exact.TopAt(end, keys)
		for _, e := range wantTop {
			want[e.Key] = e.Count
		}
		if wantTotal, _ := exact.TotalAt(end); total != wantTotal {
			t.Fatalf("TotalAt(%v) = %d, want %d", end, total, wantTotal)
		}
		if len(top) > capacity {
			t.Fatalf("TopAt(%v, %d) has %d entries", end, capacity, len(top))
		}
		inTop := map[int]bool{}
		for i, e := range top {
			inTop[e.Key] = true
			if i > 0 && (top[i-1].Count < e.Count || top[i-1].Count == e.Count && top[i-1].Key >= e.Key) {
				t.Fatalf("TopAt(%v) out of order at %d: %+v then %+v", end, i, top[i-1], e)
			}
			if e.Count-e.Err > want[e.Key] || want[e.Key] > e.Count {
				t.Fatalf("TopAt(%v) entry %+v does not cover the true count %d", end, e, want[e.Key])
			}
			if e.Err < 0 || e.Err*int64(capacity) > total {
				t.Fatalf("TopAt(%v) entry %+v: Err exceeds Total/capacity = %d/%d", end, e, total, capacity)
			}
		}
		for key, n := range want {
			if n*int64(capacity) > total && !inTop[key] {
				t.Fatalf("TopAt(%v): key %d: true count %d > Total/capacity = %d/%d but not in TopAt", end, key, n, total, capacity)
			}
		}
		if len(want) <= capacity {
			if diff := cmp.Diff(wantTop, top, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("TopAt(%v): %d keys fit in capacity %d, so it must be exact (-want +got):\n%s", end, len(want), capacity, diff)
			}
		}
		if k := max(1, capacity/2); len(top) > k {
			if short, _ := s.TopAt(end, k); !slices.Equal(short, top[:k]) {
				t.Fatalf("TopAt(%v, %d) = %v, not the first of TopAt(%v, %d) = %v", end, k, short, end, capacity, top)
			}
		}
	}
}

func checkSketch(t *rapid.T, s *Sketch[int], exact *Counter[int], capacity, keys int) {
	t.Helper()
	total := s.Total()
	if want := exact.Total(); total != want {
		t.Fatalf("Total %d, want %d", total, want)
	}
	gs, ge := s.Bounds()
	ws, we := exact.Bounds()
	if !gs.Equal(ws) || !ge.Equal(we) {
		t.Fatalf("Bounds [%v, %v), want [%v, %v)", gs, ge, ws, we)
	}
	top := s.Top(capacity)
	if s.Len() != len(top) || len(top) > capacity {
		t.Fatalf("Len %d, Top(capacity) has %d, capacity %d", s.Len(), len(top), capacity)
	}
	if diff := cmp.Diff(top, slices.Collect(s.All()), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("All is not Top(Len) (-Top +All):\n%s", diff)
	}
	stop, calls := max(1, len(top)/2), 0
	s.All()(func(topk.Entry[int]) bool { calls++; return calls < stop })
	if calls != min(stop, len(top)) {
		t.Fatalf("All of %d entries told to stop at %d yields %d", len(top), stop, calls)
	}
	inTop := map[int]bool{}
	for i, e := range top {
		inTop[e.Key] = true
		if i > 0 && (top[i-1].Count < e.Count || top[i-1].Count == e.Count && top[i-1].Key >= e.Key) {
			t.Fatalf("Top out of order at %d: %+v then %+v", i, top[i-1], e)
		}
		if want := exact.Count(e.Key); e.Count-e.Err > want || want > e.Count {
			t.Fatalf("Top entry %+v does not cover the true count %d", e, want)
		}
		if e.Err*int64(capacity) > total {
			t.Fatalf("Top entry %+v: Err exceeds Total/capacity = %d/%d", e, total, capacity)
		}
	}
	for key := range keys {
		want := exact.Count(key)
		c, e := s.Count(key)
		if c-e > want || want > c {
			t.Fatalf("key %d: true count %d outside [%d-%d, %d]", key, want, c, e, c)
		}
		if e < 0 || e*int64(capacity) > total {
			t.Fatalf("key %d: error bound %d exceeds Total/capacity = %d/%d", key, e, total, capacity)
		}
		if want*int64(capacity) > total && !inTop[key] {
			t.Fatalf("key %d: true count %d > Total/capacity = %d/%d but not in Top", key, want, total, capacity)
		}
	}
	if exact.Len() <= capacity {
		if diff := cmp.Diff(exact.Top(capacity), top); diff != "" {
			t.Fatalf("%d keys fit in capacity %d, so Top must be exact (-want +got):\n%s", exact.Len(), capacity, diff)
		}
	}
}

func TestNewSketchErrors(t *testing.T) {
	tests := []struct {
		name         string
		size, bucket time.Duration
		capacity     int
	}{
		{"zero bucket", time.Second, 0, 8},
		{"negative bucket", time.Second, -time.Second, 8},
		{"zero size", 0, time.Second, 8},
		{"size not a multiple", 3 * time.Second, 2 * time.Second, 8},
		{"too many buckets", time.Hour, time.Millisecond, 8},
		{"zero capacity", time.Second, time.Second, 0},
		{"negative capacity", time.Second, time.Second, -1},
		{"capacity too large", time.Second, time.Second, topk.MaxCapacity + 1},
	}
	for _, opt := range []Option{nil, WithHistory(-time.Second), WithHistory(time.Millisecond), WithHistory(maxSketchBuckets * time.Second)} {
		if s, err := NewSketch[string](time.Second, time.Second, 8, opt); !errors.Is(err, ErrInvalidOption) || s != nil {
			t.Errorf("NewSketch with option %v = %v, %v; want nil and ErrInvalidOption", opt, s, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSketch[string](tt.size, tt.bucket, tt.capacity)
			if !errors.Is(err, ErrInvalidOption) || s != nil {
				t.Fatalf("NewSketch(%v, %v, %d) = %v, %v; want nil and ErrInvalidOption", tt.size, tt.bucket, tt.capacity, s, err)
			}
		})
	}
}

func TestSketchAddNonPositive(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		n    int64
		at   time.Time
		want bool
	}{
		{0, t0, true},
		{0, t0.Add(-time.Minute), false}, // too late
		{-1, t0, false},
		{-5, t0.Add(3 * time.Second), false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n, tt.at.Sub(t0)), func(t *testing.T) {
			s, _ := NewSketch[string](4*time.Second, time.Second, 4)
			s.Add("a", t0, 2)
			if got := s.Add("a", tt.at, tt.n); got != tt.want {
				t.Errorf("Add(a, %v, %d) = %v, want %v", tt.at, tt.n, got, tt.want)
			}
			if c, e := s.Count("a"); c != 2 || e != 0 || s.Total() != 2 {
				t.Errorf("Count(a) = (%d, %d), Total %d; want (2, 0), 2", c, e, s.Total())
			}
			// The time still slides the window, as Advance would.
			want := time.Unix(1001, 0)
			if tt.at.After(t0) {
				want = tt.at.Truncate(time.Second).Add(time.Second)
			}
			if _, end := s.Bounds(); !end.Equal(want) {
				t.Errorf("window ends at %v, want %v", end, want)
			}
		})
	}
}

// TestSketchEmpty checks the queries of a Sketch that has seen nothing.
func TestSketchEmpty(t *testing.T) {
	s, _ := NewSketch[string](time.Minute, time.Second, 16)
	if top := s.Top(3); top != nil || s.Len() != 0 || s.Total() != 0 {
		t.Errorf("empty Sketch: Top %v, Len %d, Total %d", top, s.Len(), s.Total())
	}
	if c, e := s.Count("x"); c != 0 || e != 0 {
		t.Errorf("Count(x) = (%d, %d)", c, e)
	}
	if start, end := s.Bounds(); !start.IsZero() || !end.IsZero() {
		t.Errorf("Bounds = %v, %v; want zero Times", start, end)
	}
}

// TestSketchSlidesLong checks that a long in-order stream keeps
// its answers exact while the window holds few keys, across many flips of
// the two stacks.
func TestSketchSlidesLong(t *testing.T) {
	s, _ := NewSketch[string](5*time.Second, time.Second, 4)
	exact, _ := NewCounter[string](5*time.Second, time.Second)
	t0 := time.Unix(0, 0)
	keys := []string{"a", "b", "c"}
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * 250 * time.Millisecond)
		k := keys[i%len(keys)]
		if i%7 == 0 {
			k = "a"
		}
		s.Add(k, at, int64(1+i%3))
		exact.Add(k, at, int64(1+i%3))
		if i%13 == 0 {
			if diff := cmp.Diff(exact.Top(5), s.Top(5)); diff != "" {
				t.Fatalf("after %d adds (-want +got):\n%s", i+1, diff)
			}
		}
	}
}

// TestSketchAllWhileAdding checks what All promises of changes from its loop:
// it goes on yielding the window as it was when it began, while the changes
// still count.
func TestSketchAllWhileAdding(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const keys = 12
		bucket := time.Second
		nb := rapid.IntRange(1, 4).Draw(t, "buckets")
		capacity := rapid.IntRange(1, 6).Draw(t, "capacity")
		before := sketchOps(bucket, nb, keys).Draw(t, "before")
		during := sketchOps(bucket, nb, keys).Draw(t, "during")
		s, err := NewSketch[int](time.Duration(nb)*bucket, bucket, capacity)
		if err != nil {
			t.Fatal(err)
		}
		exact, err := NewCounter[int](time.Duration(nb)*bucket, bucket)
		if err != nil {
			t.Fatal(err)
		}
		latest := time.Unix(1_700_000_000, 0)
		apply := func(op sketchOp) {
			at := latest.Add(op.offset)
			if at.After(latest) {
				latest = at
			}
			if op.advance {
				s.Advance(at)
				exact.Advance(at)
				return
			}
			s.Add(op.key, at, op.n)
			exact.Add(op.key, at, op.n)
		}
		for _, op := range before {
			apply(op)
		}
		want := s.Top(capacity)
		var got []topk.Entry[int]
		for e := range s.All() {
			got = append(got, e)
			if len(during) > 0 {
				apply(during[0])
				during = during[1:]
				s.Top(1) // refills the cache All began from
			}
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("All changed as the loop added (-before +yielded):\n%s", diff)
		}
		for _, op := range during {
			apply(op)
		}
		checkSketch(t, s, exact, capacity, keys)
	})
}
