package topk_test

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/streamtop/streamtop/internal/baseline"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
)

// Exact is measured beside baseline.Map, a bare map increment, on the same
// stream in the same run (benchstat -col /impl): Exact is a map underneath,
// so the ratio shows what its bookkeeping costs.

// The streams are built only when a selected benchmark needs them: the Zipf
// ones take seconds and hundreds of megabytes.
var exactStreams = []struct {
	name string
	make func() []string
}{
	{"referrers", func() []string { return workload.UniformStream(workload.Referrers, 1<<20, 1) }},
	{"zipf1.1", func() []string { return workload.ZipfStream(1.1, workload.Distinct, workload.Length, 1) }},
	{"zipf1.5", func() []string { return workload.ZipfStream(1.5, workload.Distinct, workload.Length, 1) }},
}

func BenchmarkExactAdd(b *testing.B) {
	for _, st := range exactStreams {
		b.Run("stream="+st.name+"/impl=map", func(b *testing.B) {
			keys := st.make()
			var m baseline.Map[string]
			runtime.GC()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m.Add(keys[i%len(keys)], 1)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run("stream="+st.name+"/impl=Exact", func(b *testing.B) {
			keys := st.make()
			e := topk.NewExact[string]()
			runtime.GC()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e.Add(keys[i%len(keys)], 1)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkExactTop compares Top's size-k heap with baseline.Map's sort of
// every count, on the counts of a whole stream.
func BenchmarkExactTop(b *testing.B) {
	for _, st := range exactStreams {
		for _, k := range []int{3, 100} {
			b.Run("stream="+st.name+"/k="+strconv.Itoa(k)+"/impl=sort", func(b *testing.B) {
				var m baseline.Map[string]
				for key, c := range workload.Counts(st.make()) {
					m.Add(key, c)
				}
				runtime.GC()
				b.ReportAllocs()
				for b.Loop() {
					m.Top(k)
				}
				b.ReportMetric(float64(m.Len()), "keys")
			})
			b.Run("stream="+st.name+"/k="+strconv.Itoa(k)+"/impl=Exact", func(b *testing.B) {
				e := topk.NewExact[string]()
				for key, c := range workload.Counts(st.make()) {
					e.Add(key, c)
				}
				runtime.GC()
				b.ReportAllocs()
				for b.Loop() {
					e.Top(k)
				}
				b.ReportMetric(float64(e.Len()), "keys")
			})
		}
	}
}

// BenchmarkExactAll compares a walk over every count with All against the
// Top(Len()) a caller would otherwise sort them with.
func BenchmarkExactAll(b *testing.B) {
	for _, st := range exactStreams {
		e := topk.NewExact[string]()
		loaded := false
		load := func() {
			if !loaded {
				for key, c := range workload.Counts(st.make()) {
					e.Add(key, c)
				}
				loaded = true
			}
			runtime.GC()
		}
		b.Run("stream="+st.name+"/impl=TopLen", func(b *testing.B) {
			load()
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				for _, x := range e.Top(e.Len()) {
					sum += x.Count
				}
			}
			b.ReportMetric(float64(e.Len()), "keys")
		})
		b.Run("stream="+st.name+"/impl=All", func(b *testing.B) {
			load()
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				for _, c := range e.All() {
					sum += c
				}
			}
			b.ReportMetric(float64(e.Len()), "keys")
		})
	}
}
