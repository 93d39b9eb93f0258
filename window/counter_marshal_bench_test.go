package window_test

import (
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/window"
)

// visualizerState is the visualizer's per-shard state: a 10 s window of
// one-second buckets per resource, counting referrers, filled with 10
// seconds of visits at 1,000 a second.
func visualizerState(b *testing.B) []*window.Counter[string] {
	const perSecond = 1000
	visits := workload.VisitStream(10*perSecond, perSecond, 1)
	byResource := map[string]*window.Counter[string]{}
	var out []*window.Counter[string]
	t0 := time.Unix(1_700_000_000, 0)
	for i, v := range visits {
		c := byResource[v.Resource]
		if c == nil {
			var err error
			if c, err = window.NewCounter[string](10*time.Second, time.Second); err != nil {
				b.Fatal(err)
			}
			byResource[v.Resource] = c
			out = append(out, c)
		}
		c.Add(v.Referrer, t0.Add(time.Duration(i)*time.Second/perSecond), 1)
	}
	if len(out) != len(workload.Resources) {
		b.Fatalf("%d resources visited, want %d", len(out), len(workload.Resources))
	}
	return out
}

// BenchmarkCounterSnapshot measures the failover path of the visualizer's
// per-shard state (4 resources x 6 referrers x 10 buckets): encoding every
// window, and decoding them all into fresh Counters. Targets: under 4 KB
// (state-bytes) and under 1 ms per snapshot plus restore.
func BenchmarkCounterSnapshot(b *testing.B) {
	state := visualizerState(b)
	encode := func() ([][]byte, int) {
		out := make([][]byte, len(state))
		size := 0
		for i, c := range state {
			data, err := c.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			out[i] = data
			size += len(data)
		}
		return out, size
	}
	decode := func(enc [][]byte) {
		for _, data := range enc {
			var c window.Counter[string]
			if err := c.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
	}
	enc, size := encode()
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encode()
		}
		b.ReportMetric(float64(size), "state-bytes")
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decode(enc)
		}
	})
	b.Run("both", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, _ := encode()
			decode(e)
		}
		b.ReportMetric(float64(size), "state-bytes")
	})
}
