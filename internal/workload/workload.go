// Package workload generates the deterministic, seeded streams that streamtop's
// tests and benchmarks share: the original sample's referrers, uniform and
// Zipf-distributed keys, a Zipf stream whose ranking shifts, and a stream of
// all-distinct keys. Streams are generated before timing starts and cached per
// process, since the large ones take a second or two to build.
package workload

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// KeyLen is the length of every generated key, in bytes.
const KeyLen = 24

// Referrers are the six referrers of the original web traffic sample.
var Referrers = []string{
	"http://www.amazon.com",
	"http://www.google.com",
	"http://www.yahoo.com",
	"http://www.bing.com",
	"http://www.stackoverflow.com",
	"http://www.reddit.com",
}

// Sizes used by the benchmarks of every package, so their figures compare.
const (
	Distinct = 1_000_000  // distinct keys in the Zipf streams
	Length   = 10_000_000 // records in a large stream
)

// Keys returns n distinct keys of KeyLen bytes. Key i is the same for every n
// and seed: a hex mix of i, then i itself, so keys look random to a hash
// function but never collide.
func Keys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%016x%08x", mix(uint64(i)), uint32(i))
	}
	return keys
}

// mix is SplitMix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Zipf samples ranks 0..n-1 with P(rank r) proportional to 1/(r+1)^s, for any
// s > 0 (math/rand's Zipf needs s > 1). It uses Vose's alias method: O(n) to
// build, O(1) a sample. Not safe for concurrent use.
type Zipf struct {
	prob  []float64
	alias []int32
	rng   *rand.Rand
}

// NewZipf returns a sampler over n ranks with exponent s, seeded by seed.
func NewZipf(s float64, n int, seed uint64) *Zipf {
	w := make([]float64, n)
	var sum float64
	for r := range w {
		w[r] = math.Pow(float64(r+1), -s)
		sum += w[r]
	}
	z := &Zipf{prob: make([]float64, n), alias: make([]int32, n), rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	small := make([]int32, 0, n)
	large := make([]int32, 0, n)
	for r := range w {
		w[r] = w[r] * float64(n) / sum
		if w[r] < 1 {
			small = append(small, int32(r))
		} else {
			large = append(large, int32(r))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		z.prob[l], z.alias[l] = w[l], g
		w[g] -= 1 - w[l]
		if w[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	for _, r := range large {
		z.prob[r] = 1
	}
	for _, r := range small { // only rounding leaves these
		z.prob[r] = 1
	}
	return z
}

// Next returns the next rank.
func (z *Zipf) Next() int {
	i := z.rng.IntN(len(z.prob))
	if z.rng.Float64() < z.prob[i] {
		return i
	}
	return int(z.alias[i])
}

type streamKey struct {
	kind        string
	s           float64
	distinct, n int
	seed        uint64
}

var (
	cacheMu sync.Mutex
	cache   = map[streamKey][]string{}
	keysMu  sync.Mutex
	keySets = map[int][]string{}
)

func cached(k streamKey, build func() []string) []string {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if s, ok := cache[k]; ok {
		return s
	}
	s := build()
	cache[k] = s
	return s
}

func sharedKeys(n int) []string {
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keySets[n]; ok {
		return k
	}
	k := Keys(n)
	keySets[n] = k
	return k
}

// permutation returns a seeded random order of 0..n-1: which key holds each
// rank, so popular keys are not also the lexically smallest.
func permutation(n int, seed uint64) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	rng := rand.New(rand.NewPCG(seed, 0xbeef))
	rng.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// ZipfStream returns n records drawn with exponent s from distinct keys. The
// slice is shared and cached: do not modify it.
func ZipfStream(s float64, distinct, n int, seed uint64) []string {
	return cached(streamKey{"zipf", s, distinct, n, seed}, func() []string {
		keys := sharedKeys(distinct)
		perm := permutation(distinct, seed)
		z := NewZipf(s, distinct, seed)
		out := make([]string, n)
		for i := range out {
			out[i] = keys[perm[z.Next()]]
		}
		return out
	})
}

// ShiftingZipfStream is ZipfStream whose ranking is replaced by another random
// one 90% of the way through: a structure slow to forget the old heavy
// hitters shows it in its precision over the last part.
func ShiftingZipfStream(s float64, distinct, n int, seed uint64) []string {
	return cached(streamKey{"shift", s, distinct, n, seed}, func() []string {
		keys := sharedKeys(distinct)
		before, after := permutation(distinct, seed), permutation(distinct, seed+1)
		z := NewZipf(s, distinct, seed)
		out := make([]string, n)
		cut := n / 10 * 9
		for i := range out {
			perm := before
			if i >= cut {
				perm = after
			}
			out[i] = keys[perm[z.Next()]]
		}
		return out
	})
}

// UniformStream returns n records drawn uniformly from keys.
func UniformStream(keys []string, n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 0x11))
	out := make([]string, n)
	for i := range out {
		out[i] = keys[rng.IntN(len(keys))]
	}
	return out
}

// DistinctStream returns n records with n distinct keys: the adversarial case
// for any counting structure.
func DistinctStream(n int) []string {
	return cached(streamKey{kind: "distinct", n: n}, func() []string {
		return sharedKeys(n)
	})
}

// Counts returns the exact count of every key in stream.
func Counts(stream []string) map[string]int64 {
	c := make(map[string]int64)
	for _, k := range stream {
		c[k]++
	}
	return c
}

// PrecisionAtK returns the fraction of got's first k keys that belong to the
// true top k of exact. Keys tied with the k-th true count all count as true
// top k, so a structure is not punished for breaking a tie differently.
func PrecisionAtK(got []string, exact map[string]int64, k int) float64 {
	if k <= 0 {
		return 1
	}
	counts := make([]int64, 0, len(exact))
	for _, c := range exact {
		counts = append(counts, c)
	}
	slices.SortFunc(counts, func(a, b int64) int { return cmp.Compare(b, a) })
	if len(counts) == 0 {
		return 1
	}
	kth := counts[min(k, len(counts))-1]
	want := min(k, len(counts))
	hit := 0
	for _, key := range got[:min(k, len(got))] {
		if exact[key] >= kth {
			hit++
		}
	}
	return float64(hit) / float64(want)
}
