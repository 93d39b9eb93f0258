package keycodec

import (
	"cmp"
	"errors"
	"math"
	"testing"

	"pgregory.net/rapid"
)

var errTest = errors.New("test: corrupt")

func roundTrip[K cmp.Ordered](t *rapid.T, gen *rapid.Generator[K]) {
	keys := rapid.SliceOf(gen).Draw(t, "keys")
	var b []byte
	for _, k := range keys {
		b = AppendKey(b, k)
	}
	r := NewReader(b, errTest)
	for i, want := range keys {
		got := Key[K](r, "key")
		if r.Err() != nil {
			t.Fatalf("key %d: %v", i, r.Err())
		}
		if got != want && !(got != got && want != want) {
			t.Fatalf("key %d: got %v, want %v", i, got, want)
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left", r.Len())
	}
}

// TestKeyRoundTrip writes and reads keys of every kind cmp.Ordered admits,
// named types included.
func TestKeyRoundTrip(t *testing.T) {
	type name string
	type small int8
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.String()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Map(rapid.String(), func(s string) name { return name(s) })) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Int()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Int8()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Map(rapid.Int8(), func(i int8) small { return small(i) })) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Int16()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Int32()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Int64()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Uint()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Uint8()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Uint16()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Uint32()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Uint64()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Uintptr()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Float32()) })
	rapid.Check(t, func(t *rapid.T) { roundTrip(t, rapid.Float64()) })
}

// TestKeyErrors checks that a value out of the key type's range, a length
// past the end and a short float are errors wrapping the sentinel.
func TestKeyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(*Reader)
		data []byte
	}{
		{"int8 out of range", func(r *Reader) { Key[int8](r, "k") }, AppendKey(nil, int64(300))},
		{"uint8 out of range", func(r *Reader) { Key[uint8](r, "k") }, AppendKey(nil, uint64(256))},
		{"int32 out of range", func(r *Reader) { Key[int32](r, "k") }, AppendKey(nil, int64(math.MaxInt32+1))},
		{"string past the end", func(r *Reader) { Key[string](r, "k") }, []byte{5, 'a', 'b'}},
		{"string length overflows", func(r *Reader) { Key[string](r, "k") }, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"empty", func(r *Reader) { Key[int](r, "k") }, nil},
		{"short float64", func(r *Reader) { Key[float64](r, "k") }, []byte{1, 2, 3}},
		{"short float32", func(r *Reader) { Key[float32](r, "k") }, []byte{1, 2, 3}},
		{"overlong varint", func(r *Reader) { r.Uvarint("v") }, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"count past the end", func(r *Reader) { r.Count("n", 2) }, []byte{3, 0, 0, 0, 0, 0}},
		{"byte past the end", func(r *Reader) { r.Byte("b") }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.data, errTest)
			tc.read(r)
			if !errors.Is(r.Err(), errTest) {
				t.Fatalf("err = %v, want the sentinel", r.Err())
			}
			// The first error sticks and later reads are zero.
			if v := r.Uvarint("next"); v != 0 || !errors.Is(r.Err(), errTest) {
				t.Fatalf("read after an error: %d, %v", v, r.Err())
			}
		})
	}
}

func TestAscending(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		a, b float64
		want bool
	}{{1, 2, true}, {2, 1, false}, {1, 1, false}, {nan, 1, true}, {nan, nan, true}, {1, nan, false}} {
		if got := Ascending(tc.a, tc.b); got != tc.want {
			t.Errorf("Ascending(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
