package window

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// counterOp is one generated Add (or Advance) at a bucket relative to the
// newest one, at an offset within it.
type counterOp struct {
	advance bool
	key     string
	n       int64
	delta   int64
	offset  time.Duration
}

func counterOps(nb, hb int, bucket time.Duration) *rapid.Generator[[]counterOp] {
	return rapid.SliceOf(rapid.Custom(func(t *rapid.T) counterOp {
		return counterOp{
			advance: rapid.IntRange(0, 9).Draw(t, "advance") == 0,
			key:     rapid.SampledFrom(modelKeys).Draw(t, "key"),
			n:       rapid.Int64Range(-3, 5).Draw(t, "n"),
			// Late, out of order, current, next, and sometimes far ahead.
			delta:  rapid.SampledFrom([]int64{-int64(nb + hb), -int64(nb), -1, 0, 0, 0, 1, 2, int64(nb) + 1}).Draw(t, "delta"),
			offset: time.Duration(rapid.Int64Range(0, int64(bucket)-1).Draw(t, "offset")),
		}
	}))
}

// play applies ops to every Counter, relative to the first one's newest
// bucket (base before the first).
func play(base int64, bucket time.Duration, ops []counterOp, cs ...*Counter[string]) {
	for _, op := range ops {
		ref := base
		if cs[0].started {
			ref = cs[0].newest
		}
		at := time.Unix(0, (ref+op.delta)*int64(bucket)+int64(op.offset))
		for _, c := range cs {
			if op.advance {
				c.Advance(at)
			} else {
				c.Add(op.key, at, op.n)
			}
		}
	}
}

// sameCounter fails unless got answers every query as want does.
func sameCounter(t *rapid.T, when string, want, got *Counter[string]) {
	t.Helper()
	if diff := gocmp.Diff(want.Top(len(modelKeys)), got.Top(len(modelKeys)), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%s: Top differs (-original +decoded):\n%s", when, diff)
	}
	for _, k := range modelKeys {
		if w, g := want.Count(k), got.Count(k); w != g {
			t.Fatalf("%s: Count(%q) = %d, original %d", when, k, g, w)
		}
	}
	if want.Total() != got.Total() || want.Len() != got.Len() {
		t.Fatalf("%s: Total %d, Len %d; original %d, %d", when, got.Total(), got.Len(), want.Total(), want.Len())
	}
	ws, we := want.Bounds()
	gs, ge := got.Bounds()
	if !ws.Equal(gs) || !we.Equal(ge) || ws.IsZero() != gs.IsZero() {
		t.Fatalf("%s: Bounds [%v, %v), original [%v, %v)", when, gs, ge, ws, we)
	}
	checkInvariants(t, got)
	// Every window the history keeps, and one before.
	for age := range len(want.ring) - want.window + 2 {
		end := we.Add(-time.Duration(age) * want.bucket)
		wt, werr := want.TopAt(end, len(modelKeys))
		gt, gerr := got.TopAt(end, len(modelKeys))
		if diff := gocmp.Diff(wt, gt, cmpopts.EquateEmpty()); diff != "" || (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: TopAt(%v) = %v, %v; original %v, %v", when, end, gt, gerr, wt, werr)
		}
	}
}

// TestCounterMarshalRoundTrip checks that a decoded Counter is the original
// in every observable way, and stays so through further Adds (late,
// retracting and out of order ones included) and slides.
func TestCounterMarshalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bucket := rapid.SampledFrom([]time.Duration{time.Nanosecond, 7 * time.Millisecond, time.Second}).Draw(t, "bucket")
		nb := rapid.IntRange(1, 6).Draw(t, "buckets")
		hb := rapid.SampledFrom([]int{0, 1, 3}).Draw(t, "history")
		base := rapid.Int64Range(-100_000, 100_000).Draw(t, "base")
		c, err := NewCounter[string](time.Duration(nb)*bucket, bucket, WithHistory(time.Duration(hb)*bucket))
		if err != nil {
			t.Fatal(err)
		}
		play(base, bucket, counterOps(nb, hb, bucket).Draw(t, "before"), c)
		data, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Counter[string]
		if err := got.UnmarshalBinary(data); err != nil {
			t.Fatalf("UnmarshalBinary of a fresh encoding: %v", err)
		}
		sameCounter(t, "decoded", c, &got)
		if again, _ := got.MarshalBinary(); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}
		if want := byte(formatVersion + min(hb, 1)); data[1] != want {
			t.Fatalf("history %d encoded as version %d, want %d", hb, data[1], want)
		}
		for i, op := range counterOps(nb, hb, bucket).Draw(t, "after") {
			play(base, bucket, []counterOp{op}, c, &got)
			sameCounter(t, fmt.Sprintf("after op %d", i), c, &got)
		}
	})
}

// TestCounterUnmarshalReplaces decodes into a Counter in use, of another
// shape: its state, window size and bucket included, is replaced.
func TestCounterUnmarshalReplaces(t *testing.T) {
	c := mustCounter[string](t, 10*time.Second, time.Second)
	c.Add("a", time.Unix(100, 0), 5)
	d := mustCounter[string](t, 3*time.Minute, time.Minute)
	d.Add("x", time.Unix(100, 0), 2)
	d.Add("y", time.Unix(300, 0), 1)
	data, _ := c.MarshalBinary()
	if err := d.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if start, end := d.Bounds(); !start.Equal(time.Unix(91, 0)) || !end.Equal(time.Unix(101, 0)) {
		t.Fatalf("Bounds [%v, %v), want [91s, 101s)", start, end)
	}
	if d.Count("a") != 5 || d.Count("x") != 0 || d.Count("y") != 0 || d.Total() != 5 {
		t.Fatalf("Counts a %d x %d y %d, Total %d; want 5, 0, 0, 5", d.Count("a"), d.Count("x"), d.Count("y"), d.Total())
	}
	// The decoded window expires on its own schedule.
	d.Advance(time.Unix(110, 0))
	if d.Count("a") != 0 || d.Len() != 0 {
		t.Fatalf("after the window passed: Count %d, Len %d", d.Count("a"), d.Len())
	}
}

// counterBytes writes a Counter[string] encoding field by field: ints as
// uvarints, int64s as zigzag varints, strings as keys.
func counterBytes(fields ...any) []byte {
	return counterBytesVersion(formatVersion, fields...)
}

// counterBytesVersion is counterBytes in the given format version.
func counterBytesVersion(version byte, fields ...any) []byte {
	b := []byte{magicCounter, version, 24 /* reflect.String */}
	for _, f := range fields {
		switch f := f.(type) {
		case int:
			b = appendUvarints(b, uint64(f))
		case int64:
			b = appendVarint(b, f)
		case string:
			b = appendUvarints(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	return b
}

func TestCounterUnmarshalErrors(t *testing.T) {
	sec := int(time.Second)
	// Three buckets of a second, newest 100; keys a and b; bucket 98 holds
	// a:2, bucket 100 holds a:-1 and b:3.
	valid := counterBytes(sec, 3, 1, int64(100), 2, "a", "b", 2, 0, 1, 0, int64(2), 1, 2, 0, int64(-1), 0, int64(3))
	var ok Counter[string]
	if err := ok.UnmarshalBinary(valid); err != nil {
		t.Fatalf("the valid base case fails: %v", err)
	}
	if ok.Count("a") != 1 || ok.Count("b") != 3 || ok.Total() != 4 {
		t.Fatalf("the valid base case decodes to a %d, b %d, Total %d", ok.Count("a"), ok.Count("b"), ok.Total())
	}
	ints, _ := NewCounter[int](time.Second, time.Second)
	intData, _ := ints.MarshalBinary()
	v2 := func(fields ...any) []byte { return counterBytesVersion(formatHistory, fields...) }
	// The same with a bucket of history, holding b:-5 at bucket 97.
	validHistory := v2(sec, 3, 1, 1, int64(100), 2, "a", "b", 3, 0, 1, 1, int64(-5), 0, 1, 0, int64(2), 1, 2, 0, int64(-1), 0, int64(3))
	if err := ok.UnmarshalBinary(validHistory); err != nil {
		t.Fatalf("the valid base case with history fails: %v", err)
	}
	if got, _ := ok.TotalAt(time.Unix(100, 0)); ok.Count("b") != 3 || got != -3 {
		t.Fatalf("the valid base case with history decodes to b %d, TotalAt(100s) %d; want 3, -3", ok.Count("b"), got)
	}

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"sketch's magic", append([]byte{magicSketch}, valid[1:]...)},
		{"future version", append([]byte{magicCounter, formatHistory + 1}, valid[2:]...)},
		{"other key kind", intData},
		{"bucket 0", counterBytes(0, 3, 0)},
		{"no buckets", counterBytes(sec, 0, 0)},
		{"too many buckets", counterBytes(sec, maxCounterBuckets+1, 0)},
		{"size past int64", counterBytes(1<<62, 4, 0)},
		{"bad started flag", counterBytes(sec, 3, 2)},
		{"newest out of range", counterBytes(sec, 3, 1, int64(math.MinInt64/int64(time.Second)), 0, 0)},
		{"keys out of order", counterBytes(sec, 3, 1, int64(100), 2, "b", "a", 1, 0, 2, 0, int64(1), 0, int64(1))},
		{"key twice", counterBytes(sec, 3, 1, int64(100), 2, "a", "a", 1, 0, 2, 0, int64(1), 0, int64(1))},
		{"key in no bucket", counterBytes(sec, 3, 1, int64(100), 2, "a", "b", 1, 0, 1, 0, int64(1))},
		{"key index past the list", counterBytes(sec, 3, 1, int64(100), 1, "a", 1, 0, 1, 1, int64(1))},
		{"more pairs than keys", counterBytes(sec, 3, 1, int64(100), 1, "a", 1, 0, 2, 0, int64(1), 0, int64(1))},
		{"bucket past the window", counterBytes(sec, 3, 1, int64(100), 1, "a", 1, 3, 1, 0, int64(1))},
		{"more buckets than the window", counterBytes(sec, 1, 1, int64(100), 1, "a", 2, 0, 1, 0, int64(1), 0, 1, 0, int64(1))},
		{"bucket without pairs", counterBytes(sec, 3, 1, int64(100), 1, "a", 1, 0, 0, 0, 0)},
		{"count 0", counterBytes(sec, 3, 1, int64(100), 1, "a", 1, 0, 1, 0, int64(0))},
		{"key total past int64", counterBytes(sec, 3, 1, int64(100), 1, "a", 2, 0, 1, 0, int64(math.MaxInt64), 0, 1, 0, int64(1))},
		{"total past int64", counterBytes(sec, 3, 1, int64(100), 2, "a", "b", 1, 0, 2, 0, int64(math.MaxInt64), 0, int64(1))},
		{"more keys than bytes", counterBytes(sec, 3, 1, int64(100), 50, "a")},
		{"key past the end", counterBytes(sec, 3, 1, int64(100), 1, 9, 'a')},
		{"version 2 without history", v2(sec, 3, 0, 0)},
		{"too much history", v2(sec, 3, maxCounterBuckets, 0)},
		{"bucket past the history", v2(sec, 3, 1, 1, int64(100), 1, "a", 1, 4, 1, 0, int64(1))},
		// Buckets 97, 98 and 99 hold -Max, Max and Max: every prefix
		// fits, but the window ending at 100s totals 2 Max.
		{"window total past int64", v2(sec, 2, 1, 1, int64(99), 1, "a", 3, 0, 1, 0, int64(-math.MaxInt64), 0, 1, 0, int64(math.MaxInt64), 0, 1, 0, int64(math.MaxInt64))},
		{"truncated history", validHistory[:len(validHistory)-1]},
		{"truncated", valid[:len(valid)-1]},
		{"trailing bytes", append(slices.Clone(valid), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCounter[string](t, 2*time.Second, time.Second)
			c.Add("z", time.Unix(50, 0), 2)
			err := c.UnmarshalBinary(tc.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("UnmarshalBinary(%x) = %v, want an ErrCorrupt", tc.data, err)
			}
			t.Log(err)
			if c.Count("z") != 2 || c.Total() != 2 || len(c.ring) != 2 {
				t.Fatalf("a failed UnmarshalBinary changed the Counter: Count %d, Total %d", c.Count("z"), c.Total())
			}
		})
	}
}

// FuzzUnmarshalCounter checks that no input panics, that every error is an
// ErrCorrupt, and that whatever decodes holds the Counter's invariants,
// survives another round trip unchanged, and keeps them through a slide.
func FuzzUnmarshalCounter(f *testing.F) {
	defer func(n int) { maxDecodeCounterBuckets = n }(maxDecodeCounterBuckets)
	maxDecodeCounterBuckets = 1 << 10
	t0 := time.Unix(1_700_000_000, 0)
	for _, nb := range []int{1, 4} {
		c, _ := NewCounter[string](time.Duration(nb)*time.Second, time.Second, WithHistory(time.Duration(nb-1)*time.Second))
		data, _ := c.MarshalBinary()
		f.Add(data)
		for i, k := range []string{"/", "/a", "/b", "/", "/c", "/a", "/d", "/"} {
			c.Add(k, t0.Add(time.Duration(i)*700*time.Millisecond), int64(i%3-1))
		}
		c.Add("/late", t0, 1)
		data, _ = c.MarshalBinary()
		f.Add(data)
		f.Add(data[:len(data)/2])
		bad := slices.Clone(data)
		bad[len(bad)/2]++
		f.Add(bad)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Counter[string]
		if err := c.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		checkInvariants(t, &c)
		top := c.Top(c.Len())
		if len(top) != c.Len() {
			t.Fatalf("Top has %d entries, Len is %d", len(top), c.Len())
		}
		for i, e := range top {
			if e.Count == 0 || c.Count(e.Key) != e.Count {
				t.Fatalf("Top entry %+v, Count %d", e, c.Count(e.Key))
			}
			if i > 0 && (top[i-1].Count < e.Count || top[i-1].Count == e.Count && top[i-1].Key >= e.Key) {
				t.Fatalf("Top out of order at %d: %+v then %+v", i, top[i-1], e)
			}
		}
		again, _ := c.MarshalBinary()
		var c2 Counter[string]
		if err := c2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if again2, _ := c2.MarshalBinary(); !bytes.Equal(again, again2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", again, again2)
		}
		if diff := gocmp.Diff(top, c2.Top(c2.Len()), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("a second round trip changes Top (-want +got):\n%s", diff)
		}
		if _, end := c.Bounds(); !end.IsZero() {
			for age := range len(c.ring) - c.window + 1 {
				at := end.Add(-time.Duration(age) * c.bucket)
				top, err := c.TopAt(at, c.Len()+len(c.meta))
				total, terr := c.TotalAt(at)
				if err != nil || terr != nil {
					t.Fatalf("TopAt(%v): %v; TotalAt: %v", at, err, terr)
				}
				var sum int64
				for _, e := range top {
					sum += e.Count
				}
				if sum != total {
					t.Fatalf("TopAt(%v) sums to %d, TotalAt says %d", at, sum, total)
				}
			}
			c.Add("fuzz", end, 1)
			checkInvariants(t, &c)
		}
	})
}
