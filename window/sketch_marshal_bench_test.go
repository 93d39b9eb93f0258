package window_test

import (
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/window"
)

// BenchmarkSketchMarshal encodes and decodes a Sketch of 10 one-second
// buckets of 256 counters, filled with 10 seconds of 24-byte Zipf keys
// (s=1.1, 20,000 a second), and reports the encoding's size.
func BenchmarkSketchMarshal(b *testing.B) {
	const perSecond = 20_000
	s, err := window.NewSketch[string](10*time.Second, time.Second, 256)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	for i, k := range workload.ZipfStream(1.1, workload.Distinct, 10*perSecond, 1) {
		s.Add(k, t0.Add(time.Duration(i)*time.Second/perSecond), 1)
	}
	data, _ := s.MarshalBinary()
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "state-bytes")
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d window.Sketch[string]
			if err := d.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "state-bytes")
	})
}
