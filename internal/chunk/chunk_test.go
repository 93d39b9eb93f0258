package chunk

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"
)

// Cut against its definition: cuts in order, ending at len(b), every chunk
// but the last within [Min, Max], and each cut where the hash test first
// fires past Min (or at Max), recomputed naively from the 64 bytes before it.
func TestCutProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Low-entropy bytes make cuts rarer and runs repeat; both matter.
		alphabet := rapid.IntRange(1, 256).Draw(t, "alphabet")
		n := rapid.IntRange(0, 3*Max).Draw(t, "n")
		seed := rapid.Uint64().Draw(t, "seed")
		r := rand.New(rand.NewPCG(seed, 1))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(alphabet))
		}
		ends := Cut(b, nil)
		if n == 0 {
			if len(ends) != 0 {
				t.Fatalf("Cut of nothing = %v", ends)
			}
			return
		}
		if ends[len(ends)-1] != n {
			t.Fatalf("last end %d, want %d", ends[len(ends)-1], n)
		}
		start := 0
		for i, e := range ends {
			size := e - start
			last := i == len(ends)-1
			if size <= 0 || size > Max || !last && size < Min {
				t.Fatalf("chunk %d of %d bytes (last %v)", i, size, last)
			}
			if !last || size > Min {
				if want := naiveNext(b[start:]); want != size {
					t.Fatalf("chunk %d: %d bytes, the hash test says %d", i, size, want)
				}
			}
			start = e
		}
	})
}

// naiveNext recomputes the gear hash over the 64 bytes before each candidate
// cut.
func naiveNext(b []byte) int {
	for i := Min; i < min(len(b), Max); i++ {
		var h uint64
		for _, c := range b[i-63 : i+1] {
			h = h<<1 + gear[c]
		}
		if h>>(64-avgBits) == 0 {
			return i + 1
		}
	}
	return min(len(b), Max)
}

// Two states that share a long run of bytes share the chunks inside it:
// the reason for content-defined cuts. A new head and a changed middle cost
// a few chunks, not the rest of the state.
func TestCutResynchronises(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	shared := rnd(4 << 20)
	before := append(rnd(1000), shared...)
	after := append(rnd(3000), shared...)
	mid := len(after) / 2
	copy(after[mid:], rnd(100))

	chunks := func(b []byte) map[string]bool {
		m := map[string]bool{}
		start := 0
		for _, e := range Cut(b, nil) {
			m[string(b[start:e])] = true
			start = e
		}
		return m
	}
	old := chunks(before)
	var fresh, total int
	start := 0
	for _, e := range Cut(after, nil) {
		total++
		if !old[string(after[start:e])] {
			fresh++
			if fresh > 6 {
				break
			}
		}
		start = e
	}
	t.Logf("%d of %d chunks new", fresh, total)
	if fresh > 6 || fresh < 2 {
		t.Errorf("%d chunks new after changing the head and 100 bytes in the middle of 4 MiB; want 2 to 6", fresh)
	}
	if !bytes.Equal(before[1000:], shared) {
		t.Fatal("the test changed its shared bytes")
	}
}

func BenchmarkCut(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	var ends []int
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ends = Cut(data, ends[:0])
	}
	b.ReportMetric(float64(len(data))/float64(len(ends)), "B/chunk")
}
