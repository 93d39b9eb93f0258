package aggregate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// BenchmarkCompleteness measures issue 14's completeness latency in steady
// state with default settings: a Consumer with its defaults, aggregate with
// its defaults (10 s windows of 1 s buckets, idle timeout of 2 buckets), 4
// shards, random partition keys, 200 records a second for 20 s of wall time.
// It reports how long after its end each window became complete (every
// shard's progress through it): p50-ms, p99-ms, max-ms. Target: 99% within
// one bucket plus 1 s. Run it with -benchtime 1x.
func BenchmarkCompleteness(b *testing.B) {
	for b.Loop() {
		stream, err := memstream.New(4)
		if err != nil {
			b.Fatal(err)
		}
		out := aggchaos.NewRecordingSink()
		agg, err := aggregate.New(aggregate.Config{Size: 10 * time.Second, Bucket: time.Second, Sink: out, Host: "w",
			Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
				g, k, err := aggchaos.ParseVisit(r)
				return append(dst, aggregate.Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), err
			})})
		if err != nil {
			b.Fatal(err)
		}
		w := consumertest.StartWorker(b, source.Config{Stream: stream, Leases: checkpoint.NewMemoryStore(), WorkerID: "w", NewProcessor: agg.NewProcessor})
		rng := rand.New(rand.NewPCG(1, 2))
		for range 20 * 20 { // 20 s of 20 puts a second, 10 records each
			batch := make([]memstream.Entry, 10)
			for j := range batch {
				batch[j] = memstream.Entry{PartitionKey: fmt.Sprint("user", rng.IntN(1000)), Data: fmt.Appendf(nil, "g%d/k%d", rng.IntN(4), rng.IntN(6))}
			}
			if _, err := stream.PutRecords(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		w.Stop(b)
		d := out.CompleteDelays()
		if len(d) < 10 {
			b.Fatalf("%d windows became complete in 20 s", len(d))
		}
		ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
		b.ReportMetric(ms(d[len(d)/2]), "p50-ms")
		b.ReportMetric(ms(d[len(d)*99/100]), "p99-ms")
		b.ReportMetric(ms(d[len(d)-1]), "max-ms")
		b.ReportMetric(float64(len(d)), "windows")
	}
}
