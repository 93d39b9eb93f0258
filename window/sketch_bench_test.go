package window

import (
	"fmt"
	"maps"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/baseline"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
)

// The window of issue 3's benchmarks: 20 buckets of 100,000 records each,
// records 10µs apart, so 2 million records in the window.
const (
	benchBucket  = time.Second
	benchBuckets = 20
	benchSpacing = benchBucket / 100_000
)

var benchT0 = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

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

// windowAdder is what the benchmarks need of Sketch and Counter.
type windowAdder interface {
	Add(key string, t time.Time, n int64) bool
}

type sketchAdder struct{ *Sketch[string] }

func (s sketchAdder) Add(key string, t time.Time, n int64) bool { return s.Sketch.Add(key, t, n) }

// heapBytes returns the live heap after a collection.
func heapBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// precision is what one untimed pass over a whole stream finds.
type precision struct {
	min100, last100, min10 float64
	sketchBytes            uint64
}

var precisionCache sync.Map // "stream/capacity" -> precision

// measurePrecision runs a Sketch and an exact Counter side by side over the
// whole stream and compares their top 10 and top 100 every million records
// once the window is full, and at the end.
func measurePrecision(b *testing.B, bs benchStream, stream []string, capacity int) precision {
	key := fmt.Sprintf("%s/%d", bs.name, capacity)
	if p, ok := precisionCache.Load(key); ok {
		return p.(precision)
	}
	before := heapBytes()
	s, err := NewSketch[string](benchBuckets*benchBucket, benchBucket, capacity)
	if err != nil {
		b.Fatal(err)
	}
	exact, _ := NewCounter[string](benchBuckets*benchBucket, benchBucket)
	p := precision{min100: 1, min10: 1}
	const every = 1_000_000
	for i, k := range stream {
		at := benchT0.Add(time.Duration(i) * benchSpacing)
		s.Add(k, at, 1)
		exact.Add(k, at, 1)
		if i+1 >= benchBuckets*100_000 && ((i+1)%every == 0 || i+1 == len(stream)) {
			counts := maps.Collect(exact.All())
			got := s.Top(100)
			keys := make([]string, len(got))
			for j, e := range got {
				keys[j] = e.Key
			}
			p.last100 = workload.PrecisionAtK(keys, counts, 100)
			p.min100 = min(p.min100, p.last100)
			p.min10 = min(p.min10, workload.PrecisionAtK(keys, counts, 10))
		}
	}
	exact = nil
	p.sketchBytes = heapBytes() - before
	runtime.KeepAlive(s)
	precisionCache.Store(key, p)
	return p
}

// BenchmarkSketchAdd measures Sketch.Add, one record per op, the amortised
// cost of sliding included, next to Counter.Add and baseline.Ring (the ratio
// baseline: a ring of per-bucket maps) on the same records.
func BenchmarkSketchAdd(b *testing.B) {
	for _, bs := range benchStreams {
		// Streams are made inside b.Run, so that -bench builds only those
		// it selects (workload caches them).
		for _, capacity := range []int{1024, 8192} {
			b.Run(fmt.Sprintf("stream=%s/cap=%d", bs.name, capacity), func(b *testing.B) {
				stream := bs.make()
				p := measurePrecision(b, bs, stream, capacity)
				s, _ := NewSketch[string](benchBuckets*benchBucket, benchBucket, capacity)
				benchAdd(b, sketchAdder{s}, stream)
				b.ReportMetric(p.min100, "min-precision@100")
				b.ReportMetric(p.last100, "end-precision@100")
				b.ReportMetric(p.min10, "min-precision@10")
				b.ReportMetric(float64(p.sketchBytes), "heap-bytes")
			})
		}
		b.Run(fmt.Sprintf("stream=%s/counter", bs.name), func(b *testing.B) {
			stream := bs.make()
			c, _ := NewCounter[string](benchBuckets*benchBucket, benchBucket)
			benchAdd(b, c, stream)
		})
		b.Run(fmt.Sprintf("stream=%s/ring", bs.name), func(b *testing.B) {
			stream := bs.make()
			r, err := baseline.NewRing[string](benchBuckets*benchBucket, benchBucket)
			if err != nil {
				b.Fatal(err)
			}
			benchAdd(b, r, stream)
		})
	}
}

func benchAdd(b *testing.B, w windowAdder, stream []string) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startSketchCPU()
	for i := range b.N {
		w.Add(stream[i%len(stream)], benchT0.Add(time.Duration(i)*benchSpacing), 1)
	}
	cpu.stop(b)
}

// BenchmarkSketchTop measures a query right after an Add, so it pays for
// merging the window's summaries, on a window full of the Zipf 1.1 stream,
// next to Counter.Top and baseline.Ring's sort of every total.
func BenchmarkSketchTop(b *testing.B) {
	stream := benchStreams[1].make()
	const records = benchBuckets*100_000 + 50_000 // a full window, mid-bucket
	last := benchT0.Add(time.Duration(records-1) * benchSpacing)
	for _, capacity := range []int{1024, 8192} {
		s, _ := NewSketch[string](benchBuckets*benchBucket, benchBucket, capacity)
		for i, k := range stream[:records] {
			s.Add(k, benchT0.Add(time.Duration(i)*benchSpacing), 1)
		}
		for _, k := range []int{10, 100} {
			b.Run(fmt.Sprintf("cap=%d/k=%d", capacity, k), func(b *testing.B) {
				b.ReportAllocs()
				cpu := startSketchCPU()
				for i := range b.N {
					s.Add(stream[i%len(stream)], last, 1)
					s.Top(k)
				}
				cpu.stop(b)
			})
		}
	}
	c, _ := NewCounter[string](benchBuckets*benchBucket, benchBucket)
	for i, k := range stream[:records] {
		c.Add(k, benchT0.Add(time.Duration(i)*benchSpacing), 1)
	}
	r, err := baseline.NewRing[string](benchBuckets*benchBucket, benchBucket)
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range stream[:records] {
		r.Add(k, benchT0.Add(time.Duration(i)*benchSpacing), 1)
	}
	for _, row := range []struct {
		name string
		top  func(k int) []topk.Entry[string]
	}{{"counter", c.Top}, {"ring", r.Top}} {
		b.Run(row.name+"/k=100", func(b *testing.B) {
			b.ReportAllocs()
			cpu := startSketchCPU()
			for range b.N {
				row.top(100)
			}
			cpu.stop(b)
		})
	}
}

// BenchmarkSketchTopAt reads the window ending one bucket before the
// newest bucket's end, with a bucket of history, right after an Add into
// the newest bucket (which a past window does not see), on a window full of
// the Zipf 1.1 stream; next to the Top that pays for the same Add.
func BenchmarkSketchTopAt(b *testing.B) {
	stream := benchStreams[1].make()
	const records = benchBuckets*100_000 + 50_000 // a full window, mid-bucket
	last := benchT0.Add(time.Duration(records-1) * benchSpacing)
	for _, capacity := range []int{1024, 8192} {
		s, _ := NewSketch[string](benchBuckets*benchBucket, benchBucket, capacity, WithHistory(benchBucket))
		for i, k := range stream[:records] {
			s.Add(k, benchT0.Add(time.Duration(i)*benchSpacing), 1)
		}
		_, end := s.Bounds()
		for _, d := range []int{0, 1} {
			at := end.Add(-time.Duration(d) * benchBucket)
			b.Run(fmt.Sprintf("cap=%d/k=100/d=%d", capacity, d), func(b *testing.B) {
				b.ReportAllocs()
				cpu := startSketchCPU()
				for i := range b.N {
					s.Add(stream[i%len(stream)], last, 1)
					if _, err := s.TopAt(at, 100); err != nil {
						b.Fatal(err)
					}
				}
				cpu.stop(b)
			})
		}
	}
}
