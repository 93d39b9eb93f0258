package topk

import (
	"bytes"
	cmpstd "cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// weighted is one Add of a generated stream.
type weighted struct {
	key int
	n   int64
}

// streamGen draws streams over a small key space, skewed so that some keys
// are heavy and the tail is long enough to force evictions, with mostly unit
// weights and some large ones, some beyond the span of the eviction queue,
// and some beyond the 32 bits of a filter cell or an entry's error, mixed
// with small ones so that saturated and plain cells live side by side.
func streamGen(maxKeys int) *rapid.Generator[[]weighted] {
	return rapid.Custom(func(t *rapid.T) []weighted {
		keys := rapid.IntRange(1, maxKeys).Draw(t, "keys")
		heavy := rapid.IntRange(0, 100).Draw(t, "heavyPercent")
		maxW := rapid.SampledFrom([]int64{1, 1, 3, 50, 1000}).Draw(t, "maxWeight")
		huge := rapid.Bool().Draw(t, "huge")
		n := rapid.IntRange(0, 400).Draw(t, "len")
		out := make([]weighted, n)
		for i := range out {
			k := rapid.IntRange(0, keys-1).Draw(t, "key")
			if rapid.IntRange(0, 99).Draw(t, "skew") < heavy {
				k %= 3 // a few heavy hitters
			}
			w := rapid.Int64Range(1, maxW).Draw(t, "n")
			if huge && rapid.Bool().Draw(t, "shift") {
				w <<= 32
			}
			out[i] = weighted{key: k, n: w}
		}
		return out
	})
}

// truth is the reference model: exact counts and the total weight.
type truth struct {
	counts *Exact[int]
	total  int64
}

func exactOf(streams ...[]weighted) truth {
	tr := truth{counts: NewExact[int]()}
	for _, s := range streams {
		for _, w := range s {
			tr.counts.Add(w.key, w.n)
			tr.total += w.n
		}
	}
	return tr
}

func feed(t interface{ Fatal(...any) }, capacity int, s []weighted) *SpaceSaving[int] {
	ss, err := NewSpaceSaving[int](capacity)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range s {
		ss.Add(w.key, w.n)
	}
	return ss
}

// checkBounds checks every documented guarantee of s against the exact
// counts of the stream(s) it summarises, for every key of the key space
// (monitored or not), and the internal invariants the guarantees rest on.
func checkBounds(t *rapid.T, s *SpaceSaving[int], tr truth, capacity, maxKeys int) {
	t.Helper()
	checkInvariants(t, s, tr.total)
	top := s.Top(capacity)
	if len(top) != s.Len() || s.Len() > capacity {
		t.Fatalf("Len %d, Top(capacity) has %d entries, capacity %d", s.Len(), len(top), capacity)
	}
	for _, k := range []int{-1, 0, 1, 3} {
		if diff := cmp.Diff(top[:max(0, min(k, len(top)))], s.Top(k), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Top(%d) is not the first entries of Top(capacity) (-want +got):\n%s", k, diff)
		}
	}
	all := slices.Collect(s.All())
	slices.SortFunc(all, rank[int])
	if diff := cmp.Diff(top, all, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("All, sorted, is not Top(Len) (-Top +All):\n%s", diff)
	}
	stop, calls := max(1, len(top)/2), 0
	s.All()(func(Entry[int]) bool { calls++; return calls < stop })
	if calls != min(stop, len(top)) {
		t.Fatalf("All of %d entries told to stop at %d yields %d", len(top), stop, calls)
	}
	inTop := map[int]bool{}
	for i, e := range top {
		inTop[e.Key] = true
		if i > 0 && rank(top[i-1], e) > 0 {
			t.Fatalf("Top out of order at %d: %+v then %+v", i, top[i-1], e)
		}
		if c, errBound := s.Count(e.Key); c != e.Count || errBound != e.Err {
			t.Fatalf("Top says %+v, Count says (%d, %d)", e, c, errBound)
		}
	}
	for key := range maxKeys {
		want := tr.counts.Count(key)
		c, errBound := s.Count(key)
		if c-errBound > want || want > c {
			t.Fatalf("key %d: true count %d outside [%d-%d, %d]", key, want, c, errBound, c)
		}
		if errBound < 0 || errBound*int64(capacity) > tr.total {
			t.Fatalf("key %d: error bound %d exceeds N/capacity = %d/%d", key, errBound, tr.total, capacity)
		}
		if want*int64(capacity) > tr.total && !inTop[key] {
			t.Fatalf("key %d: true count %d > N/capacity = %d/%d but not monitored", key, want, tr.total, capacity)
		}
	}
	if tr.counts.Len() <= capacity {
		if diff := cmp.Diff(tr.counts.Top(capacity), top); diff != "" {
			t.Fatalf("%d distinct keys fit in capacity %d, so Top must be exact (-want +got):\n%s", tr.counts.Len(), capacity, diff)
		}
	}
}

// checkInvariants checks the internal state the guarantees rest on: the
// table finds every entry, the counts sum to at most N, and no filter
// counter exceeds the smallest count of a full summary.
func checkInvariants[K cmpstd.Ordered](t interface {
	Helper()
	Fatalf(string, ...any)
}, s *SpaceSaving[K], total int64) {
	t.Helper()
	if s.total != total {
		t.Fatalf("total %d, want %d", s.total, total)
	}
	used := 0
	for _, slot := range s.index {
		if slot != 0 {
			used++
		}
	}
	if used != len(s.keys) {
		t.Fatalf("%d table slots used for %d entries", used, len(s.keys))
	}
	var sum int64
	least := int64(math.MaxInt64)
	for i, k := range s.keys {
		if got := s.find(k, s.hashes[i]); got != i {
			t.Fatalf("entry %d (key %v) found at %d", i, k, got)
		}
		if e := s.errOf(i); e < 0 || e > s.counts[i] || (s.errs[i] == saturated) != (e >= saturated) {
			t.Fatalf("entry %d: count %d err %d (slot %d)", i, s.counts[i], e, s.errs[i])
		}
		sum += s.counts[i]
		least = min(least, s.counts[i])
	}
	for i := range s.bigErrs {
		if int(i) >= len(s.errs) || s.errs[i] != saturated {
			t.Fatalf("large error kept for entry %d, which does not have one", i)
		}
	}
	if sum > total {
		t.Fatalf("counts sum to %d > N = %d", sum, total)
	}
	checkQueue(t, s)
	sat := false
	for c, raw := range s.alpha {
		sat = sat || raw == saturated
		a := s.filter(uint32(c))
		if a != 0 && len(s.keys) < s.capacity {
			t.Fatalf("filter cell %d = %d before the summary filled", c, a)
		}
		if len(s.keys) == s.capacity && a > least {
			t.Fatalf("filter cell %d = %d > smallest count %d", c, a, least)
		}
	}
	if sat != (s.alphaSat != 0) || (sat && s.alphaSat < saturated) {
		t.Fatalf("shared counter %d of saturated cells, some saturated: %v", s.alphaSat, sat)
	}
}

func TestSpaceSavingBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 60
		capacity := rapid.IntRange(1, 24).Draw(t, "capacity")
		stream := streamGen(maxKeys).Draw(t, "stream")
		s := feed(t, capacity, stream)
		checkBounds(t, s, exactOf(stream), capacity, maxKeys)
	})
}

// TestSpaceSavingBoundsThroughout checks the bounds after every Add, since a
// broken invariant can heal by the end of a stream.
func TestSpaceSavingBoundsThroughout(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 30
		capacity := rapid.IntRange(1, 8).Draw(t, "capacity")
		stream := streamGen(maxKeys).Draw(t, "stream")
		s, err := NewSpaceSaving[int](capacity)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range stream {
			s.Add(w.key, w.n)
			checkBounds(t, s, exactOf(stream[:i+1]), capacity, maxKeys)
		}
	})
}

func TestSpaceSavingMerge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 60
		capacity := rapid.IntRange(1, 16).Draw(t, "capacity")
		// other may be larger: its bound is then tighter than s needs.
		otherCap := capacity * rapid.SampledFrom([]int{1, 1, 2, 3}).Draw(t, "otherCapFactor")
		a := streamGen(maxKeys).Draw(t, "a")
		b := streamGen(maxKeys).Draw(t, "b")
		after := streamGen(maxKeys).Draw(t, "after")
		s := feed(t, capacity, a)
		o := feed(t, otherCap, b)
		if err := s.Merge(o); err != nil {
			t.Fatal(err)
		}
		checkBounds(t, s, exactOf(a, b), capacity, maxKeys)
		checkInvariants(t, o, exactOf(b).total) // other is untouched
		// The merged summary must keep its guarantees as the stream goes on.
		for _, w := range after {
			s.Add(w.key, w.n)
		}
		checkBounds(t, s, exactOf(a, b, after), capacity, maxKeys)
	})
}

func TestSpaceSavingMergeChain(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 40
		capacity := rapid.IntRange(1, 10).Draw(t, "capacity")
		parts := rapid.SliceOfN(streamGen(maxKeys), 1, 5).Draw(t, "parts")
		s := feed(t, capacity, nil)
		for i, p := range parts {
			if err := s.Merge(feed(t, capacity, p)); err != nil {
				t.Fatal(err)
			}
			checkBounds(t, s, exactOf(parts[:i+1]...), capacity, maxKeys)
		}
		if err := s.Merge(s); err != nil {
			t.Fatal(err)
		}
		doubled := exactOf(append(parts, parts...)...)
		checkBounds(t, s, doubled, capacity, maxKeys)
	})
}

func TestSpaceSavingReset(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 40
		capacity := rapid.IntRange(1, 10).Draw(t, "capacity")
		before := streamGen(maxKeys).Draw(t, "before")
		after := streamGen(maxKeys).Draw(t, "after")
		s := feed(t, capacity, before)
		s.Reset()
		if s.Len() != 0 || s.Top(1) != nil {
			t.Fatalf("after Reset: Len %d, Top %v", s.Len(), s.Top(1))
		}
		for _, w := range after {
			s.Add(w.key, w.n)
		}
		checkBounds(t, s, exactOf(after), capacity, maxKeys)
	})
}

func TestSpaceSavingStrings(t *testing.T) {
	s, err := NewSpaceSaving[string](2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "a", "c", "a", "c", "c", "c"} {
		s.Add(k, 1)
	}
	// b came in with count 1 and stayed the smallest; c waited in the
	// filter until it outgrew b, then took its place.
	want := []Entry[string]{{Key: "c", Count: 4, Err: 1}, {Key: "a", Count: 3}}
	if diff := cmp.Diff(want, s.Top(5)); diff != "" {
		t.Errorf("Top (-want +got):\n%s", diff)
	}
	if c, e := s.Count("b"); c < 1 || c-e > 1 {
		t.Errorf("Count(b) = (%d, %d) must cover b's true count 1", c, e)
	}
}

func TestNewSpaceSavingErrors(t *testing.T) {
	for _, capacity := range []int{0, -1, math.MinInt, MaxCapacity + 1} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			s, err := NewSpaceSaving[string](capacity)
			if !errors.Is(err, ErrInvalidOption) || s != nil {
				t.Fatalf("NewSpaceSaving(%d) = %v, %v; want nil and ErrInvalidOption", capacity, s, err)
			}
		})
	}
	for _, capacity := range []int{1, 7, 1024} {
		if _, err := NewSpaceSaving[string](capacity); err != nil {
			t.Errorf("NewSpaceSaving(%d): %v", capacity, err)
		}
	}
}

func TestSpaceSavingAddNonPositive(t *testing.T) {
	for _, n := range []int64{0, -1, math.MinInt64} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s, _ := NewSpaceSaving[string](2)
			s.Add("a", 3)
			s.Add("a", n)
			s.Add("b", n)
			want := []Entry[string]{{Key: "a", Count: 3}}
			if diff := cmp.Diff(want, s.Top(10)); diff != "" {
				t.Errorf("Top (-want +got):\n%s", diff)
			}
			checkInvariants(t, s, 3)
		})
	}
}

func TestSpaceSavingMergeErrors(t *testing.T) {
	small, _ := NewSpaceSaving[int](2)
	large, _ := NewSpaceSaving[int](4)
	large.Add(1, 5)
	small.Add(2, 1)
	tests := []struct {
		name    string
		into    *SpaceSaving[int]
		other   *SpaceSaving[int]
		wantErr error
	}{
		{"smaller capacity", large, small, ErrInvalidOption},
		{"nil", small, nil, nil},
		{"larger capacity", small, large, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.into.Top(10)
			err := tt.into.Merge(tt.other)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Merge: %v, want %v", err, tt.wantErr)
			}
			if err != nil || tt.other == nil {
				if diff := cmp.Diff(before, tt.into.Top(10)); diff != "" {
					t.Errorf("a Merge that does nothing changed the summary (-before +after):\n%s", diff)
				}
			}
		})
	}
	want := []Entry[int]{{Key: 1, Count: 5}, {Key: 2, Count: 1}}
	if diff := cmp.Diff(want, small.Top(10)); diff != "" {
		t.Errorf("after merging capacity 4 into 2 (-want +got):\n%s", diff)
	}
}

func TestSelectLargest(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ubs := rapid.SliceOfN(rapid.Int64Range(0, 5), 1, 50).Draw(t, "ubs")
		k := rapid.IntRange(1, len(ubs)).Draw(t, "k")
		c := make([]candidate[int], len(ubs))
		for i, u := range ubs {
			c[i] = candidate[int]{key: i, ub: u}
		}
		selectLargest(c, k)
		sorted := slices.Clone(ubs)
		slices.Sort(sorted)
		slices.Reverse(sorted)
		var got []int64
		for _, x := range c[:k] {
			got = append(got, x.ub)
		}
		slices.Sort(got)
		slices.Reverse(got)
		if !slices.Equal(got, sorted[:k]) {
			t.Fatalf("first %d after select: %v, want %v", k, got, sorted[:k])
		}
		seen := map[int]bool{}
		for _, x := range c {
			seen[x.key] = true
		}
		if len(seen) != len(ubs) {
			t.Fatalf("select lost elements: %d of %d", len(seen), len(ubs))
		}
	})
}

// checkQueue checks the bucket queue that finds the smallest counter: each
// entry is filed at most once, at a count it has since reached or passed, no
// count is below the cursor, and an entry left out of the queue is beyond its
// span.
func checkQueue[K cmpstd.Ordered](t interface {
	Helper()
	Fatalf(string, ...any)
}, s *SpaceSaving[K]) {
	t.Helper()
	if s.cur == queueBuckets && s.base == -queueBuckets {
		return // idle
	}
	if s.cur < 0 || s.cur > queueBuckets {
		t.Fatalf("queue cursor %d", s.cur)
	}
	for b := range s.cur {
		if s.head[b] >= 0 {
			t.Fatalf("bucket %d below the cursor %d holds entry %d", b, s.cur, s.head[b])
		}
	}
	filed := map[int32]bool{}
	for b := s.cur; b < queueBuckets; b++ {
		for i := s.head[b]; i >= 0; i = s.next[i] {
			if filed[i] || int(i) >= len(s.counts) {
				t.Fatalf("entry %d filed twice or out of range", i)
			}
			filed[i] = true
			if s.counts[i] < s.base+int64(b) {
				t.Fatalf("entry %d of count %d filed in bucket %d (count %d)", i, s.counts[i], b, s.base+int64(b))
			}
		}
	}
	for i, c := range s.counts {
		if c < s.base+int64(s.cur) {
			t.Fatalf("entry %d of count %d below the queue's cursor %d", i, c, s.base+int64(s.cur))
		}
		if !filed[int32(i)] && c < s.base+queueBuckets {
			t.Fatalf("entry %d of count %d left out of a queue spanning up to %d", i, c, s.base+queueBuckets)
		}
	}
}

// AddAll is Add(key, 1) for each key in order: the two leave the same
// entries and filter, across the blocks AddAll hashes ahead.
func TestSpaceSavingAddAll(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 60
		capacity := rapid.IntRange(1, 16).Draw(t, "capacity")
		keys := rapid.SliceOfN(rapid.IntRange(0, maxKeys-1), 0, 300).Draw(t, "keys")
		cut := rapid.IntRange(0, len(keys)).Draw(t, "cut")
		one := feed(t, capacity, nil)
		all := feed(t, capacity, nil)
		var stream []weighted
		for _, k := range keys {
			one.Add(k, 1)
			stream = append(stream, weighted{key: k, n: 1})
		}
		all.AddAll(keys[:cut]) // two calls, so a block can end anywhere
		all.AddAll(keys[cut:])
		if !slices.Equal(one.keys, all.keys) || !slices.Equal(one.counts, all.counts) || !slices.Equal(one.errs, all.errs) || !maps.Equal(one.bigErrs, all.bigErrs) ||
			!slices.Equal(one.alpha, all.alpha) || one.alphaSat != all.alphaSat || one.total != all.total {
			t.Fatalf("AddAll left another state than Add:\n Add:    %v\n AddAll: %v", one.Top(capacity), all.Top(capacity))
		}
		checkBounds(t, all, exactOf(stream), capacity, maxKeys)
	})
}

func TestSpaceSavingAddAllDoesNotAllocate(t *testing.T) {
	s, err := NewSpaceSaving[string](8)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 200) // more than a block, more keys than capacity
	for i := range keys {
		keys[i] = fmt.Sprintf("/page/%d", i%20)
	}
	s.AddAll(keys) // warm-up: every key admitted or filtered once
	if a := testing.AllocsPerRun(100, func() { s.AddAll(keys) }); a != 0 {
		t.Errorf("AddAll allocates %v times per call", a)
	}
}

// TestSpaceSavingSaturated walks the paths for counts past the 32 bits of a
// filter cell and of an entry's error: a tail key whose filter counter
// saturates, its admission with an error of more than 4 billion, and a
// merge and an encoding of both, which must keep every bound and answer as
// int64 cells and errors would.
func TestSpaceSavingSaturated(t *testing.T) {
	const big = 5_000_000_000 // past math.MaxUint32
	s, err := NewSpaceSaving[string](2)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewExact[string]()
	var total int64
	add := func(key string, n int64) {
		s.Add(key, n)
		tr.Add(key, n)
		total += n
		checkInvariants(t, s, total)
	}
	add("a", 3*big)
	add("b", 2*big)
	add("c", big) // filtered: its cell saturates
	if s.alphaSat != big {
		t.Fatalf("shared counter of saturated cells %d, want %d", s.alphaSat, int64(big))
	}
	if c, e := s.Count("c"); c != big || e != big {
		t.Fatalf("Count(c) = (%d, %d), want (%d, %d)", c, e, int64(big), int64(big))
	}
	add("c", 2*big) // 3*big > b's 2*big: admitted with error big
	want := []Entry[string]{{Key: "a", Count: 3 * big}, {Key: "c", Count: 3 * big, Err: big}}
	if diff := cmp.Diff(want, s.Top(2)); diff != "" {
		t.Fatalf("Top (-want +got):\n%s", diff)
	}
	if len(s.bigErrs) != 1 {
		t.Fatalf("%d large errors kept, want 1", len(s.bigErrs))
	}
	// b's count, 2*big, now bounds its cell: read back through the
	// shared counter if that cell saturated too, or its own.
	if c, _ := s.Count("b"); c < 2*big {
		t.Fatalf("Count(b) = %d understates b's true count %d", c, int64(2*big))
	}

	// A merge sums saturated and plain cells, and copies large errors.
	o, _ := NewSpaceSaving[string](2)
	o.Add("d", 1)
	o.Add("e", 1)
	o.Add("f", 1)
	if err := s.Merge(o); err != nil {
		t.Fatal(err)
	}
	tr.Add("d", 1)
	tr.Add("e", 1)
	tr.Add("f", 1)
	total += 3
	checkInvariants(t, s, total)
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		c, e := s.Count(k)
		if want := tr.Count(k); c-e > want || want > c || e*2 > total {
			t.Fatalf("after merge, key %s: true count %d outside [%d-%d, %d], or error above N/2", k, want, c, e, c)
		}
	}

	// The encoding holds the exact floor and errors, and a decoded summary
	// encodes to the same bytes.
	got, data := roundTrip(t, s)
	if diff := cmp.Diff(s.Top(2), got.Top(2)); diff != "" {
		t.Fatalf("Top differs after the round trip (-want +got):\n%s", diff)
	}
	if floorOf(got) != floorOf(s) {
		t.Fatalf("decoded floor %d, want %d", floorOf(got), floorOf(s))
	}
	checkInvariants(t, got, total)
	if again, _ := got.MarshalBinary(); !bytes.Equal(again, data) {
		t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
	}
	s.Reset()
	if s.alphaSat != 0 || len(s.bigErrs) != 0 {
		t.Fatalf("after Reset: shared counter %d, %d large errors", s.alphaSat, len(s.bigErrs))
	}
	checkInvariants(t, s, 0)
}
