package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// shardSource reads every shard, and after a split goes on with the children,
// so no record is missed; records keep their partition key.
func TestShardSourceFollowsReshard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		st, err := memstream.New(2)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []string
		src := &shardSource{stream: st, label: "test", from: source.Position{Type: source.TrimHorizon}}
		done := make(chan error)
		go func() {
			done <- src.run(ctx, func(b batch) {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range b.recs {
					got = append(got, r.Key+"="+string(r.Data))
				}
			})
		}()
		var want []string
		put := func(from, to int) {
			for i := from; i < to; i++ {
				key := fmt.Sprint("pk", i)
				if _, _, err := st.Put(ctx, key, []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
				want = append(want, fmt.Sprintf("%s=%d", key, i))
			}
		}
		put(0, 20)
		synctest.Wait()
		shards, err := st.Shards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Split the first shard in the middle of its hash range.
		if err := st.SplitShard(ctx, shards[0].ID, "85070591730234615865843651857942052864"); err != nil {
			t.Fatal(err)
		}
		put(20, 60)
		synctest.Wait()
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("run = %v, want context.Canceled", err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("read %d records, want %d:\ngot  %q\nwant %q", len(got), len(want), got, want)
		}
	})
}

// A stream that cannot list its shards fails the source at start, naming
// what failed.
func TestShardSourceListFails(t *testing.T) {
	src := &shardSource{stream: failingStream{}, label: "test"}
	err := src.run(t.Context(), func(batch) {})
	if err == nil || !strings.Contains(err.Error(), "list shards") {
		t.Errorf("run = %v, want an error about listing shards", err)
	}
}

type failingStream struct{}

func (failingStream) Shards(context.Context) ([]source.Shard, error) {
	return nil, fmt.Errorf("stream unreachable")
}

func (failingStream) Open(context.Context, string, source.Position) (source.ShardReader, error) {
	return nil, fmt.Errorf("stream unreachable")
}

// With untilCaughtUp, run returns nil once every shard, the children of a
// split included, has been read up to its newest record.
func TestShardSourceUntilCaughtUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		st, err := memstream.New(2)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		put := func(from, to int) {
			for i := from; i < to; i++ {
				key := fmt.Sprint("pk", i)
				if _, _, err := st.Put(ctx, key, []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
				want = append(want, fmt.Sprintf("%s=%d", key, i))
			}
		}
		put(0, 20)
		shards, err := st.Shards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SplitShard(ctx, shards[0].ID, "85070591730234615865843651857942052864"); err != nil {
			t.Fatal(err)
		}
		put(20, 60)
		var got []string
		src := &shardSource{stream: st, label: "test", from: source.Position{Type: source.TrimHorizon}, untilCaughtUp: true}
		err = src.run(ctx, func(b batch) {
			for _, r := range b.recs {
				got = append(got, r.Key+"="+string(r.Data))
			}
		})
		if err != nil {
			t.Fatalf("run = %v, want nil once caught up", err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("read %d records, want %d:\ngot  %q\nwant %q", len(got), len(want), got, want)
		}
	})
}

// A shard whose empty reads say it is still behind is not caught up: Kinesis
// returns empty reads over a gap in a shard's records.
func TestShardSourceNotCaughtUpWhileBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &scriptedStream{reads: []source.ReadResult{
			{MillisBehindLatest: 5000},
			{MillisBehindLatest: 3000},
			{Records: []source.Record{{PartitionKey: "a", Data: []byte("1")}}, MillisBehindLatest: 0},
			{MillisBehindLatest: 0},
		}}
		n := 0
		src := &shardSource{stream: st, label: "test", from: source.Position{Type: source.TrimHorizon}, untilCaughtUp: true}
		if err := src.run(t.Context(), func(b batch) { n += len(b.recs) }); err != nil {
			t.Fatal(err)
		}
		if n != 1 || st.next != len(st.reads) {
			t.Errorf("read %d records in %d reads; want 1 in %d", n, st.next, len(st.reads))
		}
	})
}

// scriptedStream has one open shard whose reads return reads in turn.
type scriptedStream struct {
	reads []source.ReadResult
	next  int
}

func (s *scriptedStream) Shards(context.Context) ([]source.Shard, error) {
	return []source.Shard{{ID: "shard-0"}}, nil
}

func (s *scriptedStream) Open(context.Context, string, source.Position) (source.ShardReader, error) {
	return s, nil
}

func (s *scriptedStream) Read(context.Context, int) (source.ReadResult, error) {
	if s.next == len(s.reads) {
		return source.ReadResult{}, fmt.Errorf("read %d: past the script", s.next)
	}
	s.next++
	return s.reads[s.next-1], nil
}

func (s *scriptedStream) Close() error { return nil }
