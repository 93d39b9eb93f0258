package memstream_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

func Example() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) } // date-proof: the stream runs on this clock
	stream, err := memstream.New(2, memstream.WithClock(clock))
	if err != nil {
		panic(err)
	}
	for _, page := range []string{"/", "/about", "/"} {
		shard, seq, err := stream.Put(ctx, "visitor-42", []byte(page))
		if err != nil {
			panic(err)
		}
		fmt.Println(shard, seq)
	}

	// One partition key, one shard: read it from the oldest record.
	r, err := stream.Open(ctx, "shardId-000000000001", source.Position{Type: source.TrimHorizon})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	res, err := r.Read(ctx, 100)
	if err != nil {
		panic(err)
	}
	for _, rec := range res.Records {
		fmt.Printf("%s %s %s\n", rec.PartitionKey, rec.Data, rec.ArrivalTime.Format(time.TimeOnly))
	}
	// Output:
	// shardId-000000000001 00000000000000000001000000000001
	// shardId-000000000001 00000000000000000002000000000001
	// shardId-000000000001 00000000000000000003000000000001
	// visitor-42 / 12:00:00
	// visitor-42 /about 12:00:00
	// visitor-42 / 12:00:00
}

// Resharding closes the parent; a reader finishes it (End) before moving on
// to the children, which Shards lists with their parent.
func ExampleStream_SplitShard() {
	ctx := context.Background()
	stream, err := memstream.New(1)
	if err != nil {
		panic(err)
	}
	if err := stream.SplitShard(ctx, "shardId-000000000000", "170141183460469231731687303715884105728"); err != nil {
		panic(err)
	}
	shards, err := stream.Shards(ctx)
	if err != nil {
		panic(err)
	}
	for _, sh := range shards {
		fmt.Printf("%s parent=%q closed=%v [%s, %s]\n", sh.ID, sh.ParentID, sh.Closed(), sh.HashKeyStart, sh.HashKeyEnd)
	}
	// Output:
	// shardId-000000000000 parent="" closed=true [0, 340282366920938463463374607431768211455]
	// shardId-000000000001 parent="shardId-000000000000" closed=false [0, 170141183460469231731687303715884105727]
	// shardId-000000000002 parent="shardId-000000000000" closed=false [170141183460469231731687303715884105728, 340282366920938463463374607431768211455]
}
