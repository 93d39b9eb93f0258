package topk_test

import (
	"cmp"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
)

// Exact is measured beside a bare map[string]int64 on the same stream in the
// same run (benchstat -col /impl): Exact is a map underneath, so the ratio
// shows what its bookkeeping costs.

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
			m := make(map[string]int64)
			runtime.GC()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m[keys[i%len(keys)]]++
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

// BenchmarkExactTop compares Top's size-k heap with sorting every count, on
// the counts of a whole stream.
func BenchmarkExactTop(b *testing.B) {
	for _, st := range exactStreams {
		for _, k := range []int{3, 100} {
			b.Run("stream="+st.name+"/k="+strconv.Itoa(k)+"/impl=sort", func(b *testing.B) {
				counts := workload.Counts(st.make())
				runtime.GC()
				b.ReportAllocs()
				for b.Loop() {
					all := make([]topk.Entry[string], 0, len(counts))
					for key, c := range counts {
						all = append(all, topk.Entry[string]{Key: key, Count: c})
					}
					slices.SortFunc(all, func(a, b topk.Entry[string]) int {
						if a.Count != b.Count {
							return cmp.Compare(b.Count, a.Count)
						}
						return cmp.Compare(a.Key, b.Key)
					})
					_ = all[:min(k, len(all))]
				}
				b.ReportMetric(float64(len(counts)), "keys")
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
