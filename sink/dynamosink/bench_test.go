package dynamosink_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// top10 is what the visualizer stores per snapshot: the top 10 referrers.
func top10() []topk.Entry[string] {
	counts := make([]topk.Entry[string], 10)
	for i := range counts {
		counts[i] = topk.Entry[string]{Key: fmt.Sprintf("http://www.referrer-%d.com", i), Count: int64(1000 - 10*i)}
	}
	return counts
}

// BenchmarkWrite25 measures writing one full BatchWriteItem request: 25
// snapshots of the top 10 referrers each.
func BenchmarkWrite25(b *testing.B) {
	s := newSink(b)
	group := awstest.UniqueName(b, "/index.html")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // date-proof: only written, never read back against now
	batch := make([]sink.Snapshot, 25)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range batch {
			batch[j] = sink.Snapshot{Group: group, Time: base.Add(time.Duration(i) * time.Millisecond), Window: 10 * time.Second, Counts: top10(), Host: "h"}
			i++
		}
		if err := s.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "snapshots/s")
}

// BenchmarkQuery120 measures what the visualizer's chart asks for: the last
// two minutes of one page, 120 snapshots a second apart.
func BenchmarkQuery120(b *testing.B) {
	s := newSink(b)
	group := awstest.UniqueName(b, "/index.html")
	base := time.Now().UTC().Truncate(time.Second)
	batch := make([]sink.Snapshot, 120)
	for i := range batch {
		batch[i] = sink.Snapshot{Group: group, Time: base.Add(time.Duration(i) * time.Second), Window: 10 * time.Second, Counts: top10(), Host: "h"}
	}
	if err := s.Write(b.Context(), batch); err != nil {
		b.Fatal(err)
	}
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		got, err := s.Query(b.Context(), group, base)
		if err != nil || len(got) != len(batch) {
			b.Fatalf("Query = %d snapshots, %v; want %d", len(got), err, len(batch))
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2])/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(d[(len(d)-1)*99/100])/float64(time.Millisecond), "p99-ms")
}
