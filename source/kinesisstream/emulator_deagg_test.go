package kinesisstream_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// TestAggregateAfterSplitOnEmulator splits a shard in two, then puts an
// aggregated record packed by the old shard map: routed by its explicit
// hash key to the lower child, it holds user records of both halves. The
// lower child's reader delivers only its own and counts the others, which a
// KPL sends again to the upper child.
func TestAggregateAfterSplitOnEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	es := newEmulatorStream(t, 1)
	before, err := es.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const half = "170141183460469231731687303715884105728" // 2^127
	if err := es.SplitShard(ctx, before[0].ID, half); err != nil {
		t.Fatal(err)
	}
	shards, err := es.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lower source.Shard
	for _, sh := range shards {
		if sh.ParentID != "" && sh.HashKeyStart == "0" {
			lower = sh
		}
	}
	if lower.ID == "" {
		t.Fatalf("no lower child in %+v", shards)
	}

	var a kpl.Aggregator
	var want []string
	for i := range 20 {
		k := fmt.Sprint("key-", i)
		if err := a.Add(kpl.Record{PartitionKey: k, Data: []byte(k)}); err != nil {
			t.Fatal(err)
		}
		if hashkey.Of(k).Hi>>63 == 0 {
			want = append(want, k)
		}
	}
	// Two user records with explicit hash keys, one on each side.
	for _, ehk := range []string{"1", half} {
		if err := a.Add(kpl.Record{PartitionKey: "explicit", ExplicitHashKey: ehk, Data: []byte("ehk-" + ehk)}); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, "ehk-1")
	agg, _ := a.Flush()
	put, err := es.client.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String(es.Name()),
		PartitionKey: aws.String(agg.PartitionKey), ExplicitHashKey: aws.String("0"), Data: agg.Data})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.ShardId) != lower.ID {
		t.Fatalf("aggregate went to %s, want the lower child %s", aws.ToString(put.ShardId), lower.ID)
	}

	// A Stream that has not listed the shards learns the range itself.
	st, err := kinesisstream.New(es.client, es.Name(), kinesisstream.WithPollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, lower.ID, source.Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for len(got) < len(want) {
		res, err := r.Read(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range res.Records {
			if rec.SequenceNumber != aws.ToString(put.SequenceNumber) {
				t.Fatalf("record %s/%d: want the aggregate's sequence number %s", rec.SequenceNumber, rec.SubSequenceNumber, aws.ToString(put.SequenceNumber))
			}
			got = append(got, string(rec.Data))
		}
		if ctx.Err() != nil {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lower child delivered %q, want %q", got, want)
	}
	if s, dropped := st.Stats(), int64(22-len(want)); s.Aggregated != 1 || s.OutOfRange != dropped || s.Corrupt != 0 {
		t.Fatalf("Stats() = %+v, want 1 aggregate, %d out of range", s, dropped)
	}
}
