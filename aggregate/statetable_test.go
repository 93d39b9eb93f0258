package aggregate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// Sketch mode with the windows saved as panes in dynamostore's state table
// on dynalite: two workers share 4 shards with random partition keys, one
// is killed halfway and the other restores its windows from the chunks the
// killed one wrote. Every window read back complete holds every key above
// its Floor, and every count lies within its bound, against a recount.
func TestSketchModeFailoverOnStateTable(t *testing.T) {
	const size, bucket, capacity = 2 * time.Second, 500 * time.Millisecond, 64
	client := awstest.DynamoDB(t)
	ctx := context.Background()
	leases, states := awstest.UniqueName(t, "leases"), awstest.UniqueName(t, "state")
	if err := dynamostore.CreateTable(ctx, client, leases); err != nil {
		t.Fatal(err)
	}
	if err := dynamostore.CreateStateTable(ctx, client, states); err != nil {
		t.Fatal(err)
	}
	stream := consumertest.NewStream(t, 4)
	out, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	var stores []*dynamostore.Store
	var aggs []*aggregate.Aggregator
	start := func(id string) *consumertest.Worker {
		store, err := dynamostore.New(client, leases, dynamostore.WithStateTable(states))
		if err != nil {
			t.Fatal(err)
		}
		agg, err := aggregate.New(aggregate.Config{Size: size, Bucket: bucket, Sink: out, Host: id, K: 10, SketchCapacity: capacity,
			Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
				g, k, err := aggchaos.ParseVisit(r)
				return append(dst, aggregate.Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), err
			})})
		if err != nil {
			t.Fatal(err)
		}
		stores, aggs = append(stores, store), append(aggs, agg)
		return consumertest.StartWorker(t, consumertest.FastConfig(stream, store, id, agg.NewProcessor))
	}
	a, b := start("a"), start("b")
	consumertest.WaitFor(t, 20*time.Second, "4 shards held", func() bool { return a.Held()+b.Held() == 4 })

	keys := workload.ZipfStream(1.1, 5000, 8000, 5)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 80 {
		if i == 40 {
			a.Kill(t)
		}
		batch := make([]memstream.Entry, 100)
		for j := range batch {
			batch[j] = memstream.Entry{PartitionKey: fmt.Sprint("req-", rng.Uint64()),
				Data: fmt.Appendf(nil, "g%d/%s", rng.IntN(3), keys[i*len(batch)+j])}
		}
		if _, err := stream.PutRecords(ctx, batch); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	records := consumertest.ReadAll(t, stream)
	truth := aggchaos.Recompute(records, bucket)
	last := records[0].ArrivalTime
	for _, r := range records {
		if r.ArrivalTime.After(last) {
			last = r.ArrivalTime
		}
	}
	// The idle watermark closes the windows that hold the last records.
	end := last.Truncate(bucket).Add(bucket)
	consumertest.WaitFor(t, 30*time.Second, "the window holding the last records complete", func() bool {
		for _, g := range truth.Groups() {
			snaps, err := sink.QueryComplete(ctx, out, g, end)
			if err != nil || len(snaps) == 0 {
				return false
			}
		}
		return true
	})
	b.Stop(t)

	// Windows complete one bucket after another, across the kill: the
	// new owner restored the windows, rather than waiting a window's
	// length before it could write them.
	checked, _ := checkBounds(t, out, truth, size, bucket, true)
	gens := stores[0].Stats().StateGenerations
	t.Logf("%d records, %d complete windows checked; a wrote %d generations (%d bytes) to the state table before its kill",
		len(records), checked, gens, stores[0].Stats().StateBytesWritten)
	if gens == 0 {
		t.Error("a wrote no state to the state table: the failover restored nothing from it")
	}
	if checked < 3*8 {
		t.Errorf("%d complete windows over 4 s of records in 3 groups; want at least 24", checked)
	}
}
