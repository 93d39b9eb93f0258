package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
)

// weblogCheckpointer accepts every checkpoint with its state, which it
// drops: the processors encode their state (and keep the panes it is made
// of) as they would for a lease store, but the benchmark measures counting
// and merging, not the store (BenchmarkWeblogCheckpointBytes does).
type weblogCheckpointer struct{}

func (weblogCheckpointer) Checkpoint(context.Context) error                    { return nil }
func (weblogCheckpointer) CheckpointAt(context.Context, source.Sequence) error { return nil }
func (weblogCheckpointer) CheckpointState(context.Context, source.Sequence, []byte) error {
	return nil
}

// BenchmarkWeblogTopIPs is issue 15's workload: web log lines with client IPs
// drawn from 1,000,000 addresses by a Zipf law (s = 1.1), random partition
// keys over 8 shards, the top client IPs over a 60 s window of 1 s buckets,
// counted by aggregate in Sketch mode (window.Sketch of capacity 8192 per
// shard). Lines are handed to the 8 shard processors in batches of 500, as a
// Consumer would, with arrival times 65 s apart end to end; the window that
// ends at 60 s is then read back merged from sink.Memory and compared with
// an exact recount of its lines.
//
// Metrics: precision@100 of the merged top 100 (target ≥ 0.99), bound-misses
// (entries whose true count lies outside [Count-Err, Count]; must be 0),
// MiB/shard (live heap of the 8 processors after the run, per shard; target
// ≤ 64), records/s through the processors. It runs once per call: use
// -benchtime 1x. STREAMTOP_BENCH_QUICK runs a tenth of the lines.
func BenchmarkWeblogTopIPs(b *testing.B) {
	const shards, capacity, topN = 8, 8192, 100
	lines := 6_000_000
	if quick {
		lines /= 10
	}
	span := 65 * time.Second
	t0 := time.Unix(1_800_000_000, 0) // date-proof: arrival times are data here; the processors never idle
	windowEnd := t0.Add(60 * time.Second)
	for b.Loop() {
		out, err := sink.NewMemory()
		if err != nil {
			b.Fatal(err)
		}
		agg, err := aggregate.New(aggregate.Config{Size: 60 * time.Second, Bucket: time.Second, Sink: out, K: topN,
			SketchCapacity: capacity, Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
				ip, _, _ := bytes.Cut(r.Data, []byte{' '})
				return append(dst, aggregate.Item{Group: "ips", Key: string(ip), Time: r.ArrivalTime, N: 1}), nil
			})})
		if err != nil {
			b.Fatal(err)
		}
		procs := make([]source.Processor, shards)
		step := new(big.Int).Lsh(big.NewInt(1), 125) // 2^128 / 8
		for i := range procs {
			id := fmt.Sprint("shard-", i)
			lo := new(big.Int).Mul(step, big.NewInt(int64(i)))
			hi := new(big.Int).Sub(new(big.Int).Add(lo, step), big.NewInt(1))
			procs[i] = agg.NewProcessor(id)
			in := source.InitInput{ShardID: id, Start: source.Position{Type: source.TrimHorizon},
				Shard: source.Shard{ID: id, HashKeyStart: lo.String(), HashKeyEnd: hi.String()}}
			if err := procs[i].Initialize(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}
		gen := workload.NewWebLog(1_000_000, 1.1, 7)
		rng := rand.New(rand.NewPCG(7, 8))
		exact := map[string]int64{}
		batches := make([][]source.Record, shards)
		seq := make([]int, shards)
		flush := func(i int) {
			if err := procs[i].ProcessRecords(context.Background(), batches[i], weblogCheckpointer{}); err != nil {
				b.Fatal(err)
			}
			batches[i] = batches[i][:0]
		}
		start := time.Now()
		for n := range lines {
			line, ip := gen.Next()
			at := t0.Add(time.Duration(int64(span) * int64(n) / int64(lines)))
			if at.Before(windowEnd) {
				exact[string(ip)]++
			}
			i := rng.IntN(shards) // a random partition key's shard
			seq[i]++
			batches[i] = append(batches[i], source.Record{Data: bytes.Clone(line), ShardID: fmt.Sprint("shard-", i),
				SequenceNumber: fmt.Sprintf("%020d", seq[i]), ArrivalTime: at})
			if len(batches[i]) == 500 {
				flush(i)
			}
		}
		for i := range batches {
			if len(batches[i]) > 0 {
				flush(i)
			}
		}
		elapsed := time.Since(start)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap := ms.HeapAlloc - uint64(len(exact))*48 // less the recount's map, roughly
		runtime.KeepAlive(procs)

		snaps, err := out.Query(context.Background(), "ips", windowEnd)
		if err != nil || len(snaps) == 0 || !snaps[0].Time.Equal(windowEnd) || !snaps[0].Complete {
			b.Fatalf("window ending %v: %v, err %v; want it complete", windowEnd, snaps[:min(1, len(snaps))], err)
		}
		got := snaps[0].Counts
		keys := make([]string, 0, topN)
		misses := 0
		for _, e := range got[:min(topN, len(got))] {
			keys = append(keys, e.Key)
			if n := exact[e.Key]; n < e.Count-e.Err || n > e.Count {
				misses++
			}
		}
		b.ReportMetric(workload.PrecisionAtK(keys, exact, topN), "precision@100")
		b.ReportMetric(float64(misses), "bound-misses")
		b.ReportMetric(float64(heap)/shards/(1<<20), "MiB/shard")
		b.ReportMetric(float64(lines)/elapsed.Seconds(), "records/s")
		b.ReportMetric(float64(len(exact)), "distinct-IPs")
		if misses > 0 {
			b.Errorf("%d of the top %d counts outside their bounds", misses, topN)
		}
	}
}
