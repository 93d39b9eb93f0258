package topk

import (
	"testing"

	"github.com/streamtop/streamtop/internal/workload"
)

// BenchmarkSpaceSavingMarshal encodes and decodes a full summary of 1,024
// counters of 24-byte Zipf keys (s=1.1, 200,000 records), reporting the
// encoding's size in all and per monitored key.
func BenchmarkSpaceSavingMarshal(b *testing.B) {
	s, _ := NewSpaceSaving[string](1024)
	for _, k := range workload.ZipfStream(1.1, workload.Distinct, 200_000, 1) {
		s.Add(k, 1)
	}
	data, _ := s.MarshalBinary()
	report := func(b *testing.B) {
		b.ReportMetric(float64(len(data)), "state-bytes")
		b.ReportMetric(float64(len(data))/float64(s.Len()), "bytes/key")
	}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		into, _ := NewSpaceSaving[string](1024) // same capacity: memory reused
		for b.Loop() {
			if err := into.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}
