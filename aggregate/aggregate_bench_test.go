package aggregate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
)

// visualizerState is one shard's state under the visualizer's workload: 4
// resources, 6 referrers each, every one seen in each of 10 one-second
// buckets.
func visualizerState(b *testing.B) *state {
	// Resources are paths: they hold slashes, so "|" separates the fields.
	dec := DecoderFunc(func(r source.Record, dst []Item) ([]Item, error) {
		g, k, _ := strings.Cut(string(r.Data), "|")
		return append(dst, Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), nil
	})
	agg, err := New(Config{Size: 10 * time.Second, Bucket: time.Second, Decoder: dec, Sink: &memSink{}})
	if err != nil {
		b.Fatal(err)
	}
	p := agg.NewProcessor("s").(*processor)
	ctx := context.Background()
	if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(checkpoint.TrimHorizon)}); err != nil {
		b.Fatal(err)
	}
	var records []source.Record
	for sec := range 10 {
		for r := range 4 {
			for ref := range 6 {
				records = append(records, rec(len(records), fmt.Sprintf("/products/%d|https://referrer-%d.example.com/", r, ref),
					t0.Add(time.Duration(sec)*time.Second+time.Duration(r*6+ref)*time.Millisecond)))
			}
		}
	}
	for _, r := range records {
		p.count(&r)
	}
	if len(p.windows) != 4 || agg.Stats().Malformed != 0 {
		b.Fatalf("%d windows, %d malformed records", len(p.windows), agg.Stats().Malformed)
	}
	return &p.state
}

// Saving and restoring the visualizer's per-shard state (target: under 1 ms
// and 4 KB).
func BenchmarkStateRoundTrip(b *testing.B) {
	st := visualizerState(b)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		enc, err := encodeState(st, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeState(enc); err != nil {
			b.Fatal(err)
		}
		n = len(enc)
	}
	b.ReportMetric(float64(n), "state-bytes")
}

// Batches of 1,000 records through one shard's processor: decode, count, and per bucket the
// snapshots and a state checkpoint (into memory).
func BenchmarkProcessRecords(b *testing.B) {
	agg, err := New(Config{Size: 10 * time.Second, Bucket: time.Second, Decoder: splitDecoder, Sink: &discardSink{}})
	if err != nil {
		b.Fatal(err)
	}
	p := agg.NewProcessor("s")
	ctx := context.Background()
	if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(checkpoint.TrimHorizon)}); err != nil {
		b.Fatal(err)
	}
	const batch = 1000
	records := make([]source.Record, batch)
	tab := &table{}
	b.ReportAllocs()
	b.StopTimer()
	i := 0
	for range b.N {
		for j := range records {
			// 1,000 records a second of record time: a boundary per batch.
			records[j] = source.Record{Data: []byte(fmt.Sprintf("r%d/ref%d", i%4, i%6)),
				SequenceNumber: fmt.Sprintf("%032d", i+1), ArrivalTime: t0.Add(time.Duration(i) * time.Millisecond)}
			i++
		}
		tab.delivered = records[batch-1].SequenceNumber
		b.StartTimer()
		if err := p.ProcessRecords(ctx, records, tableCP{tab}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
}

type discardSink struct{}

func (discardSink) Write(context.Context, []sink.Snapshot) error { return nil }
