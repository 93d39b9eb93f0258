package topk_test

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"

	"github.com/streamtop/streamtop/internal/baseline"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
)

// benchStream is one of the pre-generated streams of issue 3: 10 million
// 24-byte keys.
type benchStream struct {
	name string
	make func() []string
}

var benchStreams = []benchStream{
	{"zipf0.9", func() []string { return workload.ZipfStream(0.9, workload.Distinct, workload.Length, 1) }},
	{"zipf1.1", func() []string { return workload.ZipfStream(1.1, workload.Distinct, workload.Length, 1) }},
	{"zipf1.5", func() []string { return workload.ZipfStream(1.5, workload.Distinct, workload.Length, 1) }},
	{"uniform6", func() []string { return workload.UniformStream(workload.Referrers, workload.Length, 1) }},
	{"shifting1.1", func() []string { return workload.ShiftingZipfStream(1.1, workload.Distinct, workload.Length, 1) }},
}

// exactCounts caches the exact counts of each whole stream, the reference
// for precision.
var exactCounts sync.Map // stream name -> map[string]int64

func countsOf(bs benchStream, stream []string) map[string]int64 {
	if c, ok := exactCounts.Load(bs.name); ok {
		return c.(map[string]int64)
	}
	c := workload.Counts(stream)
	exactCounts.Store(bs.name, c)
	return c
}

func keysOf(es []topk.Entry[string]) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

// summaryQuality is what one untimed pass over a whole stream finds.
type summaryQuality struct {
	p10, p100     float64
	mem, keyBytes int
}

var qualityCache sync.Map // "stream/capacity" -> summaryQuality

// quality feeds a whole stream to a SpaceSaving and compares its top 10 and
// top 100 with the exact ones, once per stream and capacity.
func quality(bs benchStream, stream []string, capacity int) summaryQuality {
	key := fmt.Sprintf("%s/%d", bs.name, capacity)
	if q, ok := qualityCache.Load(key); ok {
		return q.(summaryQuality)
	}
	exact := countsOf(bs, stream)
	s, _ := topk.NewSpaceSaving[string](capacity)
	for _, k := range stream {
		s.Add(k, 1)
	}
	q := summaryQuality{
		p10:      workload.PrecisionAtK(keysOf(s.Top(10)), exact, 10),
		p100:     workload.PrecisionAtK(keysOf(s.Top(100)), exact, 100),
		mem:      topk.MemBytes(s),
		keyBytes: s.Len() * workload.KeyLen,
	}
	qualityCache.Store(key, q)
	return q
}

// BenchmarkSpaceSavingAdd measures Add over the streams, one record per op,
// and AddAll (the "all" rows, per record too), next to topk.Exact, baseline.SpaceSaving (the paper's algorithm on
// container/heap), baseline.Map (a bare map increment) and hashOnly (the
// hash of the key alone) on the same records. The precision metrics come
// from one untimed pass over the whole stream, compared with the exact top
// k.
func BenchmarkSpaceSavingAdd(b *testing.B) {
	for _, bs := range benchStreams {
		// Streams are made inside b.Run, so that -bench builds only those
		// it selects (workload caches them).
		for _, capacity := range []int{1024, 8192} {
			b.Run(fmt.Sprintf("stream=%s/cap=%d", bs.name, capacity), func(b *testing.B) {
				stream := bs.make()
				q := quality(bs, stream, capacity)
				s, _ := topk.NewSpaceSaving[string](capacity)
				benchAdds(b, stream, s)
				b.StopTimer()
				b.ReportMetric(q.p10, "precision@10")
				b.ReportMetric(q.p100, "precision@100")
				b.ReportMetric(float64(q.mem), "struct-bytes")
				b.ReportMetric(float64(q.keyBytes), "key-bytes")
			})
			b.Run(fmt.Sprintf("stream=%s/cap=%d/all", bs.name, capacity), func(b *testing.B) {
				stream := bs.make()
				s, _ := topk.NewSpaceSaving[string](capacity)
				benchAddAll(b, stream, s)
			})
			b.Run(fmt.Sprintf("stream=%s/cap=%d/heap", bs.name, capacity), func(b *testing.B) {
				stream := bs.make()
				h, err := baseline.NewSpaceSaving[string](capacity)
				if err != nil {
					b.Fatal(err)
				}
				benchAdds(b, stream, h)
			})
		}
		b.Run(fmt.Sprintf("stream=%s/exact", bs.name), func(b *testing.B) {
			stream := bs.make()
			e := topk.NewExact[string]()
			benchAdds(b, stream, e)
		})
		b.Run(fmt.Sprintf("stream=%s/map", bs.name), func(b *testing.B) {
			stream := bs.make()
			var m baseline.Map[string]
			benchAdds(b, stream, &m)
		})
		b.Run(fmt.Sprintf("stream=%s/hash", bs.name), func(b *testing.B) {
			stream := bs.make()
			benchAdds(b, stream, &hashOnly{seed: maphash.MakeSeed()})
		})
	}
}

// hashOnly hashes each key and keeps nothing: the floor of any structure
// that must read a key's bytes to find its counter. On the Zipf streams most
// of it is the cache miss on the bytes of a key of the long tail, which a
// map pays too, and then a second miss in its own large table.
type hashOnly struct {
	seed maphash.Seed
	sum  uint64
}

func (h *hashOnly) Add(key string, n int64) {
	h.sum += maphash.String(h.seed, key) + uint64(n)
}

// benchAdds times b.N Adds of the stream's records, one per op. Every row
// calls Add through the same interface, so the indirect call costs them all
// alike.
func benchAdds(b *testing.B, stream []string, c interface{ Add(string, int64) }) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startSpacesavingCPU()
	for i := range b.N {
		c.Add(stream[i%len(stream)], 1)
	}
	cpu.stop(b)
}

// benchAddAll times b.N records given to AddAll in batches of 500 (a
// PutRecords batch), so ns/op is per record, as in benchAdds.
func benchAddAll(b *testing.B, stream []string, s *topk.SpaceSaving[string]) {
	const batch = 500
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startSpacesavingCPU()
	for i := 0; i < b.N; i += batch {
		from := i % len(stream)
		s.AddAll(stream[from:min(from+batch, len(stream), from+b.N-i)])
	}
	cpu.stop(b)
}

// BenchmarkSpaceSavingTop measures Top on a summary that has seen the whole
// Zipf 1.1 stream.
func BenchmarkSpaceSavingTop(b *testing.B) {
	stream := benchStreams[1].make()
	for _, capacity := range []int{1024, 8192} {
		s, _ := topk.NewSpaceSaving[string](capacity)
		for _, k := range stream {
			s.Add(k, 1)
		}
		for _, k := range []int{10, 100} {
			b.Run(fmt.Sprintf("cap=%d/k=%d", capacity, k), func(b *testing.B) {
				b.ReportAllocs()
				cpu := startSpacesavingCPU()
				for range b.N {
					s.Top(k)
				}
				cpu.stop(b)
			})
		}
	}
}

// BenchmarkSpaceSavingMerge measures merging two full summaries of halves
// of the Zipf 1.1 stream, the step window.Sketch repeats on every query.
func BenchmarkSpaceSavingMerge(b *testing.B) {
	stream := benchStreams[1].make()
	for _, capacity := range []int{1024, 8192} {
		b.Run(fmt.Sprintf("cap=%d", capacity), func(b *testing.B) {
			x, _ := topk.NewSpaceSaving[string](capacity)
			y, _ := topk.NewSpaceSaving[string](capacity)
			half := len(stream) / 2
			for i, k := range stream {
				if i < half {
					x.Add(k, 1)
				} else {
					y.Add(k, 1)
				}
			}
			into, _ := topk.NewSpaceSaving[string](capacity)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startSpacesavingCPU()
			for range b.N {
				into.Reset()
				into.Merge(x)
				into.Merge(y)
			}
			cpu.stop(b)
		})
	}
}
