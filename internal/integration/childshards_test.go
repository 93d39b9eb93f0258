package integration

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// countingKinesis counts ListShards calls.
type countingKinesis struct {
	*sdk.Client
	lists atomic.Int64
}

func (c *countingKinesis) ListShards(ctx context.Context, in *sdk.ListShardsInput, opts ...func(*sdk.Options)) (*sdk.ListShardsOutput, error) {
	c.lists.Add(1)
	return c.Client.ListShards(ctx, in, opts...)
}

// Issue 17: at the end of a shard, kinesis-local (as the service) says which
// shards replace it (ChildShards in GetRecords); the Consumer creates their
// leases from that, so a split is followed without listing the stream's
// shards again, and every record put after it is processed.
func TestChildShardsFromGetRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kc := awstest.KinesisClient(awstest.KinesisLocal(t).Endpoint)
	kc, name, store, deleteStream := backendsOn(t, ctx, kc, 1)
	defer deleteStream()
	counting := &countingKinesis{Client: kc}
	stream, err := kinesisstream.New(counting, name)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	cfg := consumertest.FastConfig(stream, store, "w", func(string) source.Processor {
		return source.HandlerFunc(func(_ context.Context, recs []source.Record) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				seen[string(r.Data)] = true
			}
			return nil
		})
	})
	cfg.ShardSyncInterval = time.Hour // only the first sync lists the shards on its own
	w := consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 30*time.Second, "the shard held", func() bool { return w.Held() == 1 })
	put := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := kc.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String(name),
				PartitionKey: aws.String(fmt.Sprint("k", i)), Data: fmt.Appendf(nil, "r%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(0, 20)
	shards, err := stream.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := counting.lists.Load()
	if _, err := kc.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String(name),
		ShardToSplit: aws.String(shards[0].ID), NewStartingHashKey: aws.String(consumertest.Midpoint(t, shards[0]))}); err != nil {
		t.Fatal(err)
	}
	if err := kinesisstream.WaitActive(ctx, kc, name); err != nil {
		t.Fatal(err)
	}
	put(20, 60)
	consumertest.WaitFor(t, 60*time.Second, "every record, the children's included", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 60
	})
	if n := counting.lists.Load() - before; n != 0 {
		t.Errorf("the Consumer listed the shards %d times to follow the split; want 0: ChildShards name the children", n)
	}
	if w.Held() != 2 {
		t.Errorf("holding %d shards after the split; want the 2 children", w.Held())
	}
	w.Stop(t)
}
