package window

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/topk"
)

// TestSketchMarshalRoundTrip runs random operations on a Sketch and an
// exact Counter, round-trips the Sketch, and checks that the decoded one
// keeps every guarantee, now and as operations go on, with the original's
// Total and Bounds, and with its very answers while no summary has
// overflowed (then no filter counter is in play).
func TestSketchMarshalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bucket := time.Second
		nb := rapid.IntRange(1, 6).Draw(t, "buckets")
		hb := rapid.SampledFrom([]int{0, 1, 2, 7}).Draw(t, "history")
		capacity := rapid.IntRange(1, 8).Draw(t, "capacity")
		keys := rapid.IntRange(1, 12).Draw(t, "keys")
		t0 := time.Unix(rapid.SampledFrom([]int64{1_700_000_000, -86_400}).Draw(t, "t0"), 123_456_789)
		before := sketchOps(bucket, nb+hb, keys).Draw(t, "before")
		after := sketchOps(bucket, nb+hb, keys).Draw(t, "after")

		history := WithHistory(time.Duration(hb) * bucket)
		s, err := NewSketch[int](time.Duration(nb)*bucket, bucket, capacity, history)
		if err != nil {
			t.Fatal(err)
		}
		exact, err := NewCounter[int](time.Duration(nb)*bucket, bucket, history)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		latest := t0
		apply := func(ss ...*Sketch[int]) func(op sketchOp) {
			return func(op sketchOp) {
				at := latest.Add(op.offset)
				if at.After(latest) {
					latest = at
				}
				for _, x := range ss {
					if op.advance {
						x.Advance(at)
					} else {
						x.Add(op.key, at, op.n)
					}
				}
				if op.advance {
					exact.Advance(at)
				} else {
					exact.Add(op.key, at, op.n)
					seen[op.key] = true
				}
			}
		}
		for _, op := range before {
			apply(s)(op)
		}
		data, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Sketch[int]
		if err := got.UnmarshalBinary(data); err != nil {
			t.Fatalf("UnmarshalBinary of a fresh encoding: %v", err)
		}
		if again, _ := got.MarshalBinary(); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}
		if want := byte(formatVersion + min(hb, 1)); data[1] != want {
			t.Fatalf("history %d encoded as version %d, want %d", hb, data[1], want)
		}
		same := func(when string) {
			checkSketch(t, &got, exact, capacity, keys)
			checkSketchAt(t, &got, exact, capacity, keys)
			if got.Total() != s.Total() {
				t.Fatalf("%s: Total %d, original %d", when, got.Total(), s.Total())
			}
			gs, ge := got.Bounds()
			ws, we := s.Bounds()
			if !gs.Equal(ws) || !ge.Equal(we) {
				t.Fatalf("%s: Bounds [%v, %v), original [%v, %v)", when, gs, ge, ws, we)
			}
			if len(seen) > capacity {
				return // summaries may have overflowed: bounds only
			}
			if diff := cmp.Diff(s.Top(capacity), got.Top(capacity)); diff != "" {
				t.Fatalf("%s: Top differs from the original's (-want +got):\n%s", when, diff)
			}
			_, end := s.Bounds()
			for age := range hb + 1 {
				at := end.Add(-time.Duration(age) * bucket)
				w, _ := s.TopAt(at, capacity)
				g, _ := got.TopAt(at, capacity)
				if diff := cmp.Diff(w, g); diff != "" {
					t.Fatalf("%s: TopAt(%v) differs from the original's (-want +got):\n%s", when, at, diff)
				}
			}
			for key := range keys {
				c0, e0 := s.Count(key)
				if c, e := got.Count(key); c != c0 || e != e0 {
					t.Fatalf("%s: Count(%d) = (%d, %d), original (%d, %d)", when, key, c, e, c0, e0)
				}
			}
		}
		same("decoded")
		step := apply(s, &got)
		for i, op := range after {
			step(op)
			same(fmt.Sprintf("after op %d", i))
		}
	})
}

// sketchBytes writes a Sketch[int] encoding field by field, for the error
// table: the header, then uvarints (negative values are zigzag varints).
func sketchBytes(fields ...any) []byte {
	return sketchBytesVersion(formatVersion, fields...)
}

// sketchBytesVersion is sketchBytes in the given format version.
func sketchBytesVersion(version byte, fields ...any) []byte {
	b := []byte{magicSketch, version, 2 /* reflect.Int */}
	for _, f := range fields {
		switch f := f.(type) {
		case int:
			b = appendUvarints(b, uint64(f))
		case int64:
			b = appendVarint(b, f)
		case []byte:
			b = appendUvarints(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	return b
}

// paneBytes is a SpaceSaving[int] of the capacity holding key 1 with count.
func paneBytes(capacity, count int) []byte {
	p, _ := topk.NewSpaceSaving[int](capacity)
	p.Add(1, int64(count))
	b, _ := p.MarshalBinary()
	return b
}

func TestSketchUnmarshalErrors(t *testing.T) {
	sec := int(time.Second)
	// Two buckets of a second, capacity 2, newest bucket 100, no back;
	// bucket 99 counted key 1 three times, bucket 100 nothing.
	valid := sketchBytes(sec, 2, 2, 1, int64(100), 0, 3, paneBytes(2, 3), 0, []byte{}, []byte{})
	var ok Sketch[int]
	if err := ok.UnmarshalBinary(valid); err != nil {
		t.Fatalf("the valid base case fails: %v", err)
	}
	if c, _ := ok.Count(1); c != 3 || ok.Total() != 3 {
		t.Fatalf("the valid base case decodes to Count %d, Total %d", c, ok.Total())
	}
	v2 := func(fields ...any) []byte { return sketchBytesVersion(formatHistory, fields...) }
	// Two buckets of a second and one of history, capacity 2, newest 100,
	// split 99: bucket 98 counted key 1 twice, 99 three times. The block
	// [97, 98] is closed, so 98's pane is its suffix merge, its own; the
	// one merge kept is the open block's up to 99.
	validHistory := v2(sec, 2, 2, 1, 1, int64(100), 1, 2, paneBytes(2, 2), 3, paneBytes(2, 3), 0, []byte{}, paneBytes(2, 3))
	if err := ok.UnmarshalBinary(validHistory); err != nil {
		t.Fatalf("the valid base case with history fails: %v", err)
	}
	if top, err := ok.TopAt(time.Unix(100, 0), 1); err != nil || len(top) != 1 || top[0].Count != 5 {
		t.Fatalf("the valid base case with history decodes to TopAt(100s) = %v, %v; want key 1 counted 5", top, err)
	}
	strs, _ := NewSketch[string](time.Second, time.Second, 1)
	strData, _ := strs.MarshalBinary()
	badPane := paneBytes(2, 3)
	badPane[len(badPane)-2]++ // the lower bound, now past the total

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"counter's magic", append([]byte{magicCounter}, valid[1:]...)},
		{"future version", append([]byte{magicSketch, formatHistory + 1}, valid[2:]...)},
		{"other key kind", strData},
		{"bucket 0", sketchBytes(0, 2, 2, 0)},
		{"no buckets", sketchBytes(sec, 0, 2, 0)},
		{"too many buckets", sketchBytes(sec, maxSketchBuckets+1, 2, 0)},
		{"size past int64", sketchBytes(1<<62, 4, 2, 0)},
		{"capacity 0", sketchBytes(sec, 2, 0, 0)},
		{"too much memory", sketchBytes(sec, 100, 1<<20, 0)},
		{"bad started flag", sketchBytes(sec, 2, 2, 2)},
		{"newest out of range", sketchBytes(sec, 2, 2, 1, int64(math.MaxInt64/int64(time.Second)), 0, 0, []byte{}, 0, []byte{}, []byte{})},
		{"split before the window", sketchBytes(sec, 2, 2, 1, int64(100), 2, 3, paneBytes(2, 3), 0, []byte{}, []byte{})},
		{"bucket total differs from its summary", sketchBytes(sec, 2, 2, 1, int64(100), 0, 4, paneBytes(2, 3), 0, []byte{}, []byte{})},
		{"summary of another capacity", sketchBytes(sec, 2, 2, 1, int64(100), 0, 3, paneBytes(3, 3), 0, []byte{}, []byte{})},
		{"corrupt summary", sketchBytes(sec, 2, 2, 1, int64(100), 0, 3, badPane, 0, []byte{}, []byte{})},
		{"back without closed buckets", sketchBytes(sec, 2, 2, 1, int64(100), 0, 3, paneBytes(2, 3), 0, []byte{}, paneBytes(2, 3))},
		{"suffix merge short", sketchBytes(sec, 2, 2, 1, int64(100), 1, 3, paneBytes(2, 2), 0, []byte{}, []byte{})},
		{"summary length past the end", sketchBytes(sec, 2, 2, 1, int64(100), 0, 3, 200)},
		{"version 2 without history", v2(sec, 2, 2, 0, 0)},
		{"too much history", v2(sec, 2, 2, maxSketchBuckets, 0)},
		{"history's memory", v2(sec, 2, 1<<16, 1000, 0)},
		{"block merge short", v2(sec, 2, 2, 1, 1, int64(100), 1, 2, paneBytes(2, 2), 3, paneBytes(2, 3), 0, []byte{}, paneBytes(2, 2))},
		{"history bucket total differs", v2(sec, 2, 2, 1, 1, int64(100), 1, 2, paneBytes(2, 3), 3, paneBytes(2, 3), 0, []byte{}, paneBytes(2, 3))},
		{"truncated history", validHistory[:len(validHistory)-1]},
		{"truncated", valid[:len(valid)-1]},
		{"trailing bytes", append(slices.Clone(valid), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := NewSketch[int](3*time.Second, time.Second, 4)
			s.Add(7, time.Unix(50, 0), 2)
			err := s.UnmarshalBinary(tc.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("UnmarshalBinary(%x) = %v, want an ErrCorrupt", tc.data, err)
			}
			t.Log(err)
			if c, _ := s.Count(7); c != 2 || s.Total() != 2 || s.capacity != 4 {
				t.Fatalf("a failed UnmarshalBinary changed the Sketch: Count %d, Total %d", c, s.Total())
			}
		})
	}
}

// FuzzUnmarshalSketch checks that no input panics, that every error is an
// ErrCorrupt, and that whatever decodes answers within its own bounds,
// slides without breaking them, and survives another round trip unchanged.
func FuzzUnmarshalSketch(f *testing.F) {
	defer func(u int) { maxDecodeUnits = u }(maxDecodeUnits)
	maxDecodeUnits = 1 << 12
	t0 := time.Unix(1_700_000_000, 0)
	for _, nb := range []int{1, 3} {
		for _, capacity := range []int{1, 4} {
			s, _ := NewSketch[string](time.Duration(nb)*time.Second, time.Second, capacity, WithHistory(time.Duration(capacity/2)*time.Second))
			data, _ := s.MarshalBinary()
			f.Add(data)
			for i, k := range []string{"/", "/a", "/b", "/", "/c", "/a", "/d", "/"} {
				s.Add(k, t0.Add(time.Duration(i)*400*time.Millisecond), int64(i%3+1))
			}
			s.Add("/late", t0, 1)
			data, _ = s.MarshalBinary()
			f.Add(data)
			f.Add(data[:len(data)/2])
			bad := slices.Clone(data)
			bad[len(bad)/2]++
			f.Add(bad)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Sketch[string]
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		check := func(when string) {
			top := s.Top(s.capacity)
			if len(top) != s.Len() {
				t.Fatalf("%s: Top has %d entries, Len is %d", when, len(top), s.Len())
			}
			for i, e := range top {
				if e.Err < 0 || e.Err > e.Count || e.Err*int64(s.capacity) > s.Total() {
					t.Fatalf("%s: entry %+v breaks the error bound (Total %d)", when, e, s.Total())
				}
				if i > 0 && (top[i-1].Count < e.Count || top[i-1].Count == e.Count && top[i-1].Key >= e.Key) {
					t.Fatalf("%s: Top out of order at %d: %+v then %+v", when, i, top[i-1], e)
				}
			}
		}
		check("decoded")
		again, _ := s.MarshalBinary()
		var s2 Sketch[string]
		if err := s2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if again2, _ := s2.MarshalBinary(); !bytes.Equal(again, again2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", again, again2)
		}
		if diff := cmp.Diff(s.Top(s.capacity), s2.Top(s.capacity), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("a second round trip changes Top (-want +got):\n%s", diff)
		}
		if _, end := s.Bounds(); !end.IsZero() {
			for age := range len(s.panes) - s.window + 1 {
				at := end.Add(-time.Duration(age) * s.bucket)
				top, err := s.TopAt(at, s.capacity)
				total, terr := s.TotalAt(at)
				if err != nil || terr != nil {
					t.Fatalf("TopAt(%v): %v; TotalAt: %v", at, err, terr)
				}
				for _, e := range top {
					if e.Err < 0 || e.Err > e.Count || e.Err*int64(s.capacity) > total {
						t.Fatalf("TopAt(%v): entry %+v breaks the error bound (TotalAt %d)", at, e, total)
					}
				}
			}
			s.Add("fuzz", end, 1)
			check("after sliding one bucket")
		}
	})
}
