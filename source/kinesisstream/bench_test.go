package kinesisstream_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// visit is a record like the visualizer's: a page visit of about 80 bytes.
func visit(i int) []byte {
	return fmt.Appendf(nil, `{"resource":"/page/%d","referrer":"https://ref%d.example","host":"h%d"}`, i%97, i%13, i%3)
}

// fill writes n records to es with raw PutRecords batches of 500, and
// returns how many went to each shard.
func fill(b *testing.B, ctx context.Context, es emulatorStream, n int) map[string]int {
	b.Helper()
	perShard := map[string]int{}
	for start := 0; start < n; start += 500 {
		var entries []types.PutRecordsRequestEntry
		for i := start; i < min(n, start+500); i++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: visit(i), PartitionKey: aws.String(fmt.Sprint("key-", i))})
		}
		out, err := es.client.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String(es.Name()), Records: entries})
		if err != nil {
			b.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			b.Fatalf("%d records refused while filling", aws.ToInt32(out.FailedRecordCount))
		}
		for _, r := range out.Records {
			perShard[aws.ToString(r.ShardId)]++
		}
	}
	return perShard
}

// rawDrain reads each shard from TRIM_HORIZON with back-to-back GetRecords
// calls and no limits: what a loop on the raw SDK achieves.
func rawDrain(ctx context.Context, es emulatorStream, perShard map[string]int) error {
	return eachShard(perShard, func(shard string, n int) error {
		it, err := es.client.GetShardIterator(ctx, &sdk.GetShardIteratorInput{
			StreamName: aws.String(es.Name()), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			return err
		}
		iter := it.ShardIterator
		for got := 0; got < n; {
			out, err := es.client.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				return err
			}
			got += len(out.Records)
			iter = out.NextShardIterator
		}
		return nil
	})
}

// streamDrain reads each shard through Stream as the Consumer does: Read,
// and Wait when a Read comes back empty.
func streamDrain(ctx context.Context, st *kinesisstream.Stream, perShard map[string]int) error {
	return eachShard(perShard, func(shard string, n int) error {
		r, err := st.Open(ctx, shard, source.Position{})
		if err != nil {
			return err
		}
		defer r.Close()
		for got := 0; got < n; {
			res, err := r.Read(ctx, kinesisstream.MaxGetRecords)
			if err != nil {
				return err
			}
			got += len(res.Records)
			if len(res.Records) == 0 {
				if err := r.(source.Waiter).Wait(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func eachShard(perShard map[string]int, f func(shard string, n int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(perShard))
	for shard, n := range perShard {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f(shard, n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkDrain reads 50,000 records from TRIM_HORIZON on 2 shards of
// kinesalite, with a raw SDK loop and with Stream (default settings),
// alternating which goes first. Target: Stream at >= 90% of the raw rate.
func BenchmarkDrain(b *testing.B) {
	const n = 50000
	ctx := context.Background()
	es := newEmulatorStream(b, 2)
	perShard := fill(b, ctx, es, n)
	var raw, ours time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		order := []string{"raw", "stream"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, which := range order {
			start := time.Now()
			var err error
			if which == "raw" {
				err = rawDrain(ctx, es, perShard)
				raw += time.Since(start)
			} else {
				err = streamDrain(ctx, es.Stream, perShard)
				ours += time.Since(start)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	rawRate := float64(n*b.N) / raw.Seconds()
	ourRate := float64(n*b.N) / ours.Seconds()
	b.ReportMetric(rawRate, "raw-records/s")
	b.ReportMetric(ourRate, "stream-records/s")
	b.ReportMetric(100*ourRate/rawRate, "%-of-raw")
}

// BenchmarkLatency measures put-to-process latency on kinesalite: a writer
// puts a record with PutRecord at random moments, stamped with the time
// just before the call, and the reader notes when it gets it. "reader" runs
// the loop the Consumer runs (Read, and Wait when empty) on a bare reader;
// "consumer" runs a source.Consumer with an in-memory lease table and a
// HandlerFunc. Targets: default settings p50 <= 110 ms and p99 <= 230 ms;
// polling every 50 ms, p50 <= 30 ms.
func BenchmarkLatency(b *testing.B) {
	poll50 := []kinesisstream.StreamOption{kinesisstream.WithPollInterval(50 * time.Millisecond)}
	for _, c := range []struct {
		name     string
		consumer bool
		opts     []kinesisstream.StreamOption
	}{
		{"reader/default", false, nil},
		{"reader/poll=50ms", false, poll50},
		{"consumer/default", true, nil},
		{"consumer/poll=50ms", true, poll50},
	} {
		b.Run(c.name, func(b *testing.B) {
			const samples = 300
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			es := newEmulatorStream(b, 1, c.opts...)
			var lat []time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				got := make(chan time.Duration, samples)
				handle := func(recs []source.Record) {
					now := time.Now()
					for _, rec := range recs {
						if stamp := int64(binary.BigEndian.Uint64(rec.Data)); stamp > 0 {
							got <- now.Sub(time.Unix(0, stamp))
						} else {
							got <- -1 // a probe: the reader is running
						}
					}
				}
				stop := startReader(b, ctx, es, c.consumer, handle)
				// Probe until a record comes back, so the LATEST reader is
				// known to be open before measuring.
				probe := make([]byte, 8)
			probing:
				for {
					if _, _, err := es.Put(ctx, "k", probe); err != nil {
						b.Fatal(err)
					}
					select {
					case <-got:
						break probing
					case <-time.After(300 * time.Millisecond):
					}
				}
				for len(got) > 0 {
					<-got
				}
				for range samples {
					// Random gaps, so puts land at every phase of the poll.
					time.Sleep(time.Duration(rand.N(20 * time.Millisecond)))
					data := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
					if _, _, err := es.Put(ctx, "k", data); err != nil {
						b.Fatal(err)
					}
				}
				for n := 0; n < samples; {
					if d := <-got; d >= 0 {
						lat = append(lat, d)
						n++
					}
				}
				stop()
			}
			b.StopTimer()
			slices.Sort(lat)
			q := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// startReader reads es's only shard from LATEST in the background, handing
// each batch to handle, until the returned stop is called.
func startReader(b *testing.B, ctx context.Context, es emulatorStream, consumer bool, handle func([]source.Record)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if consumer {
		c, err := source.NewConsumer(source.Config{
			Stream:          es.Stream,
			Leases:          checkpoint.NewMemoryStore(),
			WorkerID:        "bench",
			InitialPosition: source.Position{Type: source.Latest},
			NewProcessor: func(string) source.Processor {
				return source.HandlerFunc(func(_ context.Context, recs []source.Record) error {
					handle(recs)
					return nil
				})
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer close(done)
			if err := c.Run(ctx); err != nil && ctx.Err() == nil {
				b.Error(err)
			}
		}()
		return func() { cancel(); <-done }
	}
	shards, err := es.Shards(ctx)
	if err != nil {
		b.Fatal(err)
	}
	r, err := es.Open(ctx, shards[0].ID, source.Position{Type: source.Latest})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer close(done)
		defer r.Close()
		for ctx.Err() == nil {
			res, err := r.Read(ctx, kinesisstream.MaxGetRecords)
			if err != nil {
				if ctx.Err() == nil {
					b.Error(err)
				}
				return
			}
			handle(res.Records)
			if len(res.Records) == 0 {
				r.(source.Waiter).Wait(ctx)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// BenchmarkProducer writes records to a 2-shard kinesalite stream with a
// raw loop of PutRecords batches of 500, and with the Producer (default
// settings), in rounds of 5,000 records that alternate between the two, so
// both meet the same load on a shared machine. Target: the Producer at >=
// 90% of the raw rate.
func BenchmarkProducer(b *testing.B) {
	const rounds, n = 4, 5000
	ctx := context.Background()
	es := newEmulatorStream(b, 2)
	var raw, ours time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N * rounds {
		order := []string{"raw", "producer"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, which := range order {
			start := time.Now()
			if which == "raw" {
				fill(b, ctx, es, n)
				raw += time.Since(start)
				continue
			}
			p, err := kinesisstream.NewProducer(es.client, es.Name())
			if err != nil {
				b.Fatal(err)
			}
			for j := range n {
				if err := p.Put(ctx, fmt.Sprint("key-", j), visit(j)); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			ours += time.Since(start)
			if s := p.Stats(); s.Sent != n {
				b.Fatalf("Stats = %+v, want %d sent", s, n)
			}
		}
	}
	total := float64(n * rounds * b.N)
	b.ReportMetric(total/raw.Seconds(), "raw-records/s")
	b.ReportMetric(total/ours.Seconds(), "producer-records/s")
	b.ReportMetric(100*raw.Seconds()/ours.Seconds(), "%-of-raw")
}

// BenchmarkProducerAggregation writes 100-byte records to a 2-shard
// kinesalite stream through a Producer with default settings and through
// the same Producer with WithAggregation(DefaultAggregateSize), in rounds
// that alternate between the two. It reports the records each PutRecords
// call carried and the rate of each. Target: aggregation carries >= 5x the
// records a call.
func BenchmarkProducerAggregation(b *testing.B) {
	const rounds, n, keys = 2, 20000, 1000
	ctx := context.Background()
	es := newEmulatorStream(b, 2)
	type tally struct {
		records, requests int64
		took              time.Duration
	}
	var plain, agg tally
	data := make([][]byte, n)
	for j := range data {
		data[j] = bytes.Repeat([]byte{'a' + byte(j%26)}, 100)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N * rounds {
		for k := range 2 {
			aggregate := (i+k)%2 == 1
			var opts []kinesisstream.ProducerOption
			t := &plain
			if aggregate {
				opts, t = append(opts, kinesisstream.WithAggregation(kinesisstream.DefaultAggregateSize)), &agg
			}
			start := time.Now()
			p, err := kinesisstream.NewProducer(es.client, es.Name(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			for j := range n {
				if err := p.Put(ctx, fmt.Sprint("key-", j%keys), data[j]); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			t.took += time.Since(start)
			s := p.Stats()
			if s.Sent != n {
				b.Fatalf("Stats = %+v, want %d sent", s, n)
			}
			t.records += s.Sent
			t.requests += s.Requests
		}
	}
	perCall := func(t tally) float64 { return float64(t.records) / float64(t.requests) }
	b.ReportMetric(perCall(plain), "plain-records/call")
	b.ReportMetric(perCall(agg), "aggregated-records/call")
	b.ReportMetric(perCall(agg)/perCall(plain), "x-records/call")
	b.ReportMetric(float64(plain.records)/plain.took.Seconds(), "plain-records/s")
	b.ReportMetric(float64(agg.records)/agg.took.Seconds(), "aggregated-records/s")
}
