package workload

import (
	"math"
	"strings"
	"testing"
)

func TestKeysDistinctAndSized(t *testing.T) {
	keys := Keys(100_000)
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if len(k) != KeyLen {
			t.Fatalf("key %d = %q has %d bytes, want %d", i, k, len(k), KeyLen)
		}
		if seen[k] {
			t.Fatalf("key %d = %q repeats", i, k)
		}
		seen[k] = true
	}
	if again := Keys(10); again[7] != keys[7] {
		t.Fatalf("key 7 depends on n: %q vs %q", again[7], keys[7])
	}
}

// The sampler's frequencies must follow 1/(r+1)^s, including for s < 1,
// which math/rand's Zipf cannot do.
func TestZipfFrequencies(t *testing.T) {
	for _, s := range []float64{0.9, 1.1, 1.5} {
		const n, draws = 1000, 2_000_000
		z := NewZipf(s, n, 7)
		got := make([]int, n)
		for range draws {
			got[z.Next()]++
		}
		var norm float64
		for r := range n {
			norm += math.Pow(float64(r+1), -s)
		}
		for _, r := range []int{0, 1, 9, 99} {
			want := draws * math.Pow(float64(r+1), -s) / norm
			if math.Abs(float64(got[r])-want) > 5*math.Sqrt(want) {
				t.Errorf("s=%v rank %d: %d draws, want %.0f ± %.0f", s, r, got[r], want, 5*math.Sqrt(want))
			}
		}
	}
}

func TestStreamsDeterministic(t *testing.T) {
	a := UniformStream(Referrers, 1000, 3)
	b := UniformStream(Referrers, 1000, 3)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("record %d differs between runs with the same seed", i)
		}
	}
	z := ZipfStream(1.1, 10_000, 50_000, 1)
	if fresh := NewZipf(1.1, 10_000, 1); fresh == nil || len(z) != 50_000 {
		t.Fatalf("ZipfStream length %d", len(z))
	}
	if &ZipfStream(1.1, 10_000, 50_000, 1)[0] != &z[0] {
		t.Fatal("ZipfStream is not cached")
	}
}

func TestShiftingZipfChangesLeader(t *testing.T) {
	s := ShiftingZipfStream(1.5, 1000, 100_000, 2)
	head, tail := Counts(s[:90_000]), Counts(s[90_000:])
	if top(head) == top(tail) {
		t.Fatalf("the most frequent key %q is the same before and after the shift", top(head))
	}
}

func top(c map[string]int64) string {
	best, bestN := "", int64(-1)
	for k, n := range c {
		if n > bestN || (n == bestN && k < best) {
			best, bestN = k, n
		}
	}
	return best
}

func TestPrecisionAtK(t *testing.T) {
	exact := map[string]int64{"a": 10, "b": 8, "c": 8, "d": 1}
	tests := []struct {
		got  []string
		k    int
		want float64
	}{
		{[]string{"a", "b"}, 2, 1},
		{[]string{"a", "c"}, 2, 1}, // c ties with b at the k-th count
		{[]string{"a", "d"}, 2, 0.5},
		{[]string{"d"}, 2, 0},
		{[]string{"a", "b", "c", "d"}, 10, 1},
		{nil, 0, 1},
	}
	for _, tt := range tests {
		if p := PrecisionAtK(tt.got, exact, tt.k); p != tt.want {
			t.Errorf("PrecisionAtK(%v, k=%d) = %v, want %v", tt.got, tt.k, p, tt.want)
		}
	}
}

func TestWebLogLines(t *testing.T) {
	w := NewWebLog(1_000_000, 1.1, 1)
	ips := map[string]int{}
	for range 100_000 {
		line, ip := w.Next()
		f := strings.Fields(string(line))
		if len(f) != 3 || f[0] != string(ip) || !strings.HasPrefix(f[1], "/p/") {
			t.Fatalf("line %q (ip %q): want \"ip /p/N status\"", line, ip)
		}
		ips[string(ip)]++
	}
	// Zipf 1.1 over a million addresses: a long tail of distinct ones and
	// a head that repeats.
	if len(ips) < 20_000 || len(ips) > 90_000 {
		t.Errorf("%d distinct IPs in 100,000 lines; want a long tail, tens of thousands", len(ips))
	}
	if top := ips["10.0.0.0"]; top < 1000 {
		t.Errorf("the most frequent IP came %d times in 100,000 lines; want the Zipf head", top)
	}
}
