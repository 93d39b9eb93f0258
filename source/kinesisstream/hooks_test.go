package kinesisstream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/hooktest"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// A Producer and a Stream given a hook on kinesalite report every Kinesis
// call they make: the PutRecords the client refused whole as throttled,
// the ListShards, GetShardIterator and GetRecords of a read.
func TestHooksSeeEveryCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	es := newEmulatorStream(t, 1)
	client := &throttlingClient{Client: es.client}
	rec := &hooktest.Recorder{}
	p, err := kinesisstream.NewProducer(client, es.Name(), kinesisstream.WithHooks(rec), kinesisstream.WithLinger(time.Millisecond),
		kinesisstream.WithBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if err := p.Put(ctx, fmt.Sprint("k", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	puts := rec.CallsOf("PutRecords")
	throttled := 0
	for _, c := range puts {
		if c.Adapter != "kinesisstream" || c.Duration < 0 {
			t.Errorf("call %+v: want adapter kinesisstream and a duration", c)
		}
		if c.Throttled && c.Retryable {
			throttled++
		}
	}
	if int64(len(puts)) != client.calls.Load() || int64(throttled) != client.refused.Load() || throttled == 0 {
		t.Errorf("hook saw %d PutRecords, %d throttled; the client had %d calls, %d refused", len(puts), throttled, client.calls.Load(), client.refused.Load())
	}

	st, err := kinesisstream.New(es.client, es.Name(), kinesisstream.WithHooks(rec), kinesisstream.WithPollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	shards := mustShards(t, ctx, st)
	if got := len(readShard(t, ctx, st, shards[0].ID)); got != n {
		t.Errorf("read %d records, want %d", got, n)
	}
	for _, api := range []string{"ListShards", "GetShardIterator", "GetRecords"} {
		calls := rec.CallsOf(api)
		if len(calls) == 0 {
			t.Errorf("no %s call seen", api)
		}
		for _, c := range calls {
			if c.Err != nil {
				t.Errorf("%s: %v", api, c.Err)
			}
		}
	}
}
