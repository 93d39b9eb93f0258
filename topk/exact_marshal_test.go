package topk

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// TestExactMarshalRoundTrip checks that a decoded Exact answers every query
// as the original, and keeps doing so through further Adds, negative ones
// included (the count of keys below 0 is state too).
func TestExactMarshalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		type add struct {
			key string
			n   int64
		}
		gen := rapid.SliceOf(rapid.Custom(func(t *rapid.T) add {
			return add{rapid.SampledFrom([]string{"", "a", "b", "c", "ü"}).Draw(t, "key"), rapid.Int64Range(-3, 5).Draw(t, "n")}
		}))
		e := NewExact[string]()
		for _, a := range gen.Draw(t, "before") {
			e.Add(a.key, a.n)
		}
		data, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Exact[string] // the zero value decodes too
		if err := got.UnmarshalBinary(data); err != nil {
			t.Fatalf("UnmarshalBinary of a fresh encoding: %v", err)
		}
		if again, _ := got.MarshalBinary(); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}
		same := func() {
			if diff := cmp.Diff(e.Top(10), got.Top(10), cmpopts.EquateEmpty()); diff != "" || e.Len() != got.Len() || e.negative != got.negative {
				t.Fatalf("Len %d (want %d), negative %d (want %d), Top (-want +got):\n%s", got.Len(), e.Len(), got.negative, e.negative, diff)
			}
		}
		same()
		for _, a := range gen.Draw(t, "after") {
			e.Add(a.key, a.n)
			got.Add(a.key, a.n)
			same()
		}
	})
}

// TestExactMarshalKeyKinds round-trips Exacts of keys of several kinds,
// named ones included.
func TestExactMarshalKeyKinds(t *testing.T) {
	type id uint32
	exactKinds(t, []id{0, 7, math.MaxUint32})
	exactKinds(t, []int16{math.MinInt16, 0, math.MaxInt16})
	exactKinds(t, []float32{-1.5, 0, 3})
	exactKinds(t, []uint{0, math.MaxUint})
}

func exactKinds[K interface {
	~uint32 | ~int16 | ~float32 | ~uint
}](t *testing.T, keys []K) {
	t.Helper()
	e := NewExact[K]()
	for i, k := range keys {
		e.Add(k, int64(i)-1)
	}
	data, _ := e.MarshalBinary()
	var got Exact[K]
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatalf("%T: %v", keys, err)
	}
	if diff := cmp.Diff(e.Top(len(keys)), got.Top(len(keys))); diff != "" {
		t.Fatalf("%T: Top differs (-want +got):\n%s", keys, diff)
	}
}

func TestExactUnmarshalErrors(t *testing.T) {
	enc := func(fields ...byte) []byte {
		return append([]byte{magicExact, formatVersion, 2 /* reflect.Int */}, fields...)
	}
	valid := enc(2, 2, 6, 4, 1) // key 1: 3, key 2: -1
	var ok Exact[int]
	if err := ok.UnmarshalBinary(valid); err != nil || ok.Count(1) != 3 || ok.Count(2) != -1 {
		t.Fatalf("the valid base case: %v, counts %d, %d", err, ok.Count(1), ok.Count(2))
	}
	strs := NewExact[string]()
	strs.Add("x", 1)
	strData, _ := strs.MarshalBinary()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"spacesaving's magic", append([]byte{magicSpaceSaving}, valid[1:]...)},
		{"future version", append([]byte{magicExact, formatVersion + 1}, valid[2:]...)},
		{"other key kind", strData},
		{"key twice", enc(2, 2, 6, 2, 1)},
		{"keys out of order", enc(2, 4, 1, 2, 6)},
		{"count 0", enc(1, 2, 0)},
		{"more keys than bytes", enc(9, 2, 6)},
		{"truncated", valid[:len(valid)-1]},
		{"trailing bytes", append(slices.Clone(valid), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewExact[int]()
			e.Add(7, 2)
			err := e.UnmarshalBinary(tc.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("UnmarshalBinary(%x) = %v, want an ErrCorrupt", tc.data, err)
			}
			if e.Count(7) != 2 || e.Len() != 1 {
				t.Fatalf("a failed UnmarshalBinary changed the Exact")
			}
		})
	}
}

// FuzzUnmarshalExact checks that no input panics, that every error is an
// ErrCorrupt, and that whatever decodes has no zero count, counts its
// negative keys right, and survives another round trip unchanged.
func FuzzUnmarshalExact(f *testing.F) {
	for _, adds := range [][]int64{nil, {1}, {3, -1, 2, 5}, {-4, -4, 9}} {
		e := NewExact[string]()
		for i, n := range adds {
			e.Add(string(rune('a'+i)), n)
		}
		data, _ := e.MarshalBinary()
		f.Add(data)
		f.Add(data[:len(data)/2])
		bad := slices.Clone(data)
		bad[len(bad)-1]++
		f.Add(bad)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Exact[string]
		if err := e.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		negative := 0
		for k, c := range e.counts {
			if c == 0 {
				t.Fatalf("key %q decoded with count 0", k)
			}
			if c < 0 {
				negative++
			}
		}
		if negative != e.negative {
			t.Fatalf("%d negative counts, the Exact says %d", negative, e.negative)
		}
		top := e.Top(e.Len())
		for i := 1; i < len(top); i++ {
			if rank(top[i-1], top[i]) >= 0 {
				t.Fatalf("Top out of order at %d: %+v then %+v", i, top[i-1], top[i])
			}
		}
		again, _ := e.MarshalBinary()
		var e2 Exact[string]
		if err := e2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if again2, _ := e2.MarshalBinary(); !bytes.Equal(again, again2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", again, again2)
		}
	})
}
