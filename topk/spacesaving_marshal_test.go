package topk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// roundTrip marshals s and unmarshals it into a zero SpaceSaving.
func roundTrip[K interface{ ~int | ~string }](t interface{ Fatalf(string, ...any) }, s *SpaceSaving[K]) (*SpaceSaving[K], []byte) {
	data, err := s.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	var got SpaceSaving[K]
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatalf("UnmarshalBinary of a fresh encoding: %v", err)
	}
	return &got, data
}

// floorOf is the largest filter counter: what a decoded summary answers for
// every key it does not monitor.
func floorOf[K interface{ ~int | ~string }](s *SpaceSaving[K]) int64 {
	return s.filterFloor()
}

// TestSpaceSavingMarshalRoundTrip checks that a decoded summary answers as
// the original for every monitored key, answers the original's largest
// filter counter (an upper bound of what the original says) for the others,
// and keeps every guarantee as the stream goes on.
func TestSpaceSavingMarshalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 60
		capacity := rapid.IntRange(1, 16).Draw(t, "capacity")
		before := streamGen(maxKeys).Draw(t, "before")
		merged := streamGen(maxKeys).Draw(t, "merged")
		after := streamGen(maxKeys).Draw(t, "after")
		s := feed(t, capacity, before)
		if rapid.Bool().Draw(t, "merge") {
			if err := s.Merge(feed(t, capacity, merged)); err != nil {
				t.Fatal(err)
			}
		} else {
			merged = nil
		}
		got, data := roundTrip(t, s)

		if got.Capacity() != capacity || got.Len() != s.Len() || got.total != s.total {
			t.Fatalf("capacity %d, Len %d, total %d; want %d, %d, %d", got.Capacity(), got.Len(), got.total, capacity, s.Len(), s.total)
		}
		if diff := cmp.Diff(s.Top(capacity), got.Top(capacity)); diff != "" {
			t.Fatalf("Top differs after the round trip (-want +got):\n%s", diff)
		}
		floor := floorOf(s)
		monitored := map[int]bool{}
		for _, e := range s.Top(capacity) {
			monitored[e.Key] = true
		}
		for key := range maxKeys {
			c0, e0 := s.Count(key)
			c, e := got.Count(key)
			switch {
			case monitored[key] && (c != c0 || e != e0):
				t.Fatalf("monitored key %d: Count (%d, %d), want (%d, %d)", key, c, e, c0, e0)
			case !monitored[key] && (c != floor || e != floor || c0 > floor):
				t.Fatalf("key %d not monitored: Count (%d, %d), original (%d, %d), floor %d", key, c, e, c0, e0, floor)
			}
		}
		checkBounds(t, got, exactOf(before, merged), capacity, maxKeys)
		if again, _ := got.MarshalBinary(); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}

		// Going on, both must keep the guarantees; while no key was ever
		// evicted nor the filter used they must also agree exactly.
		for _, w := range after {
			s.Add(w.key, w.n)
			got.Add(w.key, w.n)
		}
		tr := exactOf(before, merged, after)
		checkBounds(t, got, tr, capacity, maxKeys)
		if tr.counts.Len() <= capacity {
			if diff := cmp.Diff(s.Top(capacity), got.Top(capacity)); diff != "" {
				t.Fatalf("no eviction, yet Top differs after more Adds (-want +got):\n%s", diff)
			}
		}
	})
}

// TestSpaceSavingUnmarshalReplaces checks that decoding into a summary in
// use replaces all of its state, capacity included, and reuses its memory
// when the capacity is the same.
func TestSpaceSavingUnmarshalReplaces(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 40
		capA := rapid.IntRange(1, 12).Draw(t, "capA")
		capB := rapid.SampledFrom([]int{capA, capA + 1, 1}).Draw(t, "capB")
		a := feed(t, capA, streamGen(maxKeys).Draw(t, "a"))
		bStream := streamGen(maxKeys).Draw(t, "b")
		b := feed(t, capB, bStream)
		data, _ := b.MarshalBinary()
		index := &a.index[0]
		if err := a.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		if capA == capB && &a.index[0] != index {
			t.Fatalf("same capacity, but the table was reallocated")
		}
		fresh, _ := roundTrip(t, b)
		if diff := cmp.Diff(fresh.Top(capB), a.Top(capB)); diff != "" || a.Capacity() != capB || a.total != b.total {
			t.Fatalf("decoding into a used summary: capacity %d total %d, Top (-fresh +got):\n%s", a.Capacity(), a.total, diff)
		}
		checkBounds(t, a, exactOf(bStream), capB, maxKeys)
	})
}

// TestSpaceSavingMarshalKeyKinds round-trips summaries of named and
// unnamed key types of several kinds.
func TestSpaceSavingMarshalKeyKinds(t *testing.T) {
	type path string
	type port uint16
	testKind(t, []path{"/a", "/b", "", "/ü"})
	testKind(t, []port{0, 1, 443, math.MaxUint16})
	testKind(t, []int8{math.MinInt8, -1, 0, math.MaxInt8})
	testKind(t, []float64{math.Inf(-1), -0.5, 0, 1e300})
	testKind(t, []float32{-1, 0.25, math.MaxFloat32})
	testKind(t, []uint64{0, math.MaxUint64})
	testKind(t, []int64{math.MinInt64, math.MaxInt64})
}

func testKind[K interface {
	~string | ~int8 | ~uint16 | ~uint64 | ~int64 | ~float32 | ~float64
}](t *testing.T, keys []K) {
	t.Helper()
	s, _ := NewSpaceSaving[K](len(keys))
	for i, k := range keys {
		s.Add(k, int64(i+1))
	}
	data, _ := s.MarshalBinary()
	var got SpaceSaving[K]
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatalf("%T: %v", keys, err)
	}
	if diff := cmp.Diff(s.Top(len(keys)), got.Top(len(keys))); diff != "" {
		t.Fatalf("%T: Top differs (-want +got):\n%s", keys, diff)
	}
}

// TestSpaceSavingUnmarshalErrors checks that every kind of bad input is an
// ErrCorrupt and leaves the summary as it was.
func TestSpaceSavingUnmarshalErrors(t *testing.T) {
	// hdr is a valid header of a SpaceSaving[int]; the rest is written
	// field by field: capacity, total, filter floor, number of keys, then
	// per key the key (zigzag), its lower bound and its error.
	hdr := []byte{magicSpaceSaving, formatVersion, 2 /* reflect.Int */}
	enc := func(fields ...byte) []byte { return append(slices.Clone(hdr), fields...) }
	valid := enc(2, 10, 0, 2, 2, 3, 0, 4, 7, 0) // keys 1 (3) and 2 (7)
	var ok SpaceSaving[int]
	if err := ok.UnmarshalBinary(valid); err != nil {
		t.Fatalf("the valid base case fails: %v", err)
	}
	strs, _ := NewSpaceSaving[string](2)
	strs.Add("x", 1)
	strData, _ := strs.MarshalBinary()

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"magic only", []byte{magicSpaceSaving}},
		{"other structure", append([]byte{magicExact}, valid[1:]...)},
		{"future version", append([]byte{magicSpaceSaving, formatVersion + 1}, valid[2:]...)},
		{"other key kind", strData},
		{"capacity 0", enc(0, 0, 0, 0)},
		{"capacity too large", enc(0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0)},
		{"truncated varint", enc(2, 10, 0, 2, 2, 3, 0, 4, 0x87)},
		{"truncated", valid[:len(valid)-1]},
		{"trailing bytes", append(slices.Clone(valid), 0)},
		{"more keys than bytes", enc(2, 10, 0, 100, 2, 3, 0)},
		{"more keys than capacity", enc(1, 10, 0, 2, 2, 3, 0, 4, 7, 0)},
		{"key twice", enc(2, 10, 0, 2, 2, 3, 0, 2, 7, 0)},
		{"keys out of order", enc(2, 10, 0, 2, 4, 7, 0, 2, 3, 0)},
		{"counts above the total", enc(2, 9, 0, 2, 2, 3, 0, 4, 7, 0)},
		{"error above total/capacity", enc(2, 10, 0, 2, 2, 0, 6, 4, 4, 0)},
		{"floor above total/capacity", enc(2, 10, 6, 2, 2, 3, 0, 4, 7, 0)},
		{"floor above a count", enc(2, 10, 4, 2, 2, 3, 0, 4, 7, 0)},
		{"floor with room to spare", enc(3, 10, 1, 2, 2, 3, 0, 4, 7, 0)},
		{"total past int64", enc(2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := feed(t, 3, []weighted{{1, 5}, {2, 1}})
			want := s.Top(3)
			err := s.UnmarshalBinary(tc.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("UnmarshalBinary(%x) = %v, want an ErrCorrupt", tc.data, err)
			}
			if diff := cmp.Diff(want, s.Top(3)); diff != "" || s.Capacity() != 3 {
				t.Fatalf("a failed UnmarshalBinary changed the summary (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzUnmarshalSpaceSaving checks that no input panics, that every error is
// an ErrCorrupt, and that whatever decodes holds the invariants, answers
// consistently, and survives another round trip unchanged.
func FuzzUnmarshalSpaceSaving(f *testing.F) {
	defer func(c int) { maxDecodeCapacity = c }(maxDecodeCapacity)
	maxDecodeCapacity = 1 << 12 // big summaries only cost the fuzzer time
	for _, stream := range [][]string{
		nil,
		{"a"},
		{"a", "b", "a", "c", "d", "e", "a", "f", "b"},
		{"/products/1", "/products/2", "/", "/", "/cart", "/products/1"},
	} {
		for _, c := range []struct{ capacity, shift int }{{1, 0}, {3, 0}, {8, 0}, {3, 33}} {
			// A shift of 33 takes filter counters and errors past 32 bits.
			s, _ := NewSpaceSaving[string](c.capacity)
			for i, k := range stream {
				s.Add(k, int64(i%3+1)<<c.shift)
			}
			data, _ := s.MarshalBinary()
			f.Add(data)
			f.Add(data[:len(data)/2])
			if len(data) > 4 {
				bad := slices.Clone(data)
				bad[4]++
				f.Add(bad)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s SpaceSaving[string]
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		checkInvariants(t, &s, s.total)
		top := s.Top(s.Capacity())
		if len(top) != s.Len() {
			t.Fatalf("Top has %d entries, Len is %d", len(top), s.Len())
		}
		for i, e := range top {
			if e.Err < 0 || e.Err > e.Count || e.Err*int64(s.Capacity()) > s.total {
				t.Fatalf("entry %+v breaks the error bound (total %d, capacity %d)", e, s.total, s.Capacity())
			}
			if i > 0 && rank(top[i-1], e) >= 0 {
				t.Fatalf("Top out of order at %d: %+v then %+v", i, top[i-1], e)
			}
			if c, errBound := s.Count(e.Key); c != e.Count || errBound != e.Err {
				t.Fatalf("Top says %+v, Count says (%d, %d)", e, c, errBound)
			}
		}
		again, data2 := roundTrip(t, &s)
		if diff := cmp.Diff(top, again.Top(s.Capacity()), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("a second round trip changes Top (-want +got):\n%s", diff)
		}
		if data3, _ := again.MarshalBinary(); !bytes.Equal(data2, data3) {
			t.Fatalf("encoding is not stable:\n%x\n%x", data2, data3)
		}
		s.Add("fuzz", 1)
		checkInvariants(t, &s, s.total)
	})
}

// TestSpaceSavingEncodingGolden pins the bytes of one encoding, taken from
// the format's first version (int64 filter cells and errors), with weights
// past 32 bits: changes to how a summary holds its fields in memory must
// not change what it writes.
func TestSpaceSavingEncodingGolden(t *testing.T) {
	s, _ := NewSpaceSaving[string](4)
	for i, k := range []string{"a", "b", "a", "c", "d", "a", "b"} {
		s.Add(k, int64(i+1)<<(11*(i%4)))
	}
	o, _ := NewSpaceSaving[string](4)
	o.Add("a", 5<<33)
	if err := s.Merge(o); err != nil {
		t.Fatal(err)
	}
	data, _ := s.MarshalBinary()
	const want = "5301180486808194a0020004016181e08086a00100016280a0800e0001638080808080010001640500"
	if got := hex.EncodeToString(data); got != want {
		t.Fatalf("encoding changed:\n got %s\nwant %s", got, want)
	}
}
