package kinesisstream

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source"
)

var maxKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

func bigOf(k hashkey.Key) *big.Int {
	b := new(big.Int).Lsh(new(big.Int).SetUint64(k.Hi), 64)
	return b.Or(b, new(big.Int).SetUint64(k.Lo))
}

func keyOf(b *big.Int) hashkey.Key {
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0)))
	return hashkey.Key{Hi: new(big.Int).Rsh(b, 64).Uint64(), Lo: lo.Uint64()}
}

// drawKey draws a hash key in [lo, hi], often at or next to an end.
func drawKey(t *rapid.T, lo, hi *big.Int, label string) *big.Int {
	span := new(big.Int).Sub(hi, lo)
	switch rapid.IntRange(0, 4).Draw(t, label+"-kind") {
	case 0:
		return new(big.Int).Set(lo)
	case 1:
		return new(big.Int).Set(hi)
	}
	f := rapid.Uint64().Draw(t, label)
	off := new(big.Int).Mul(span, new(big.Int).SetUint64(f))
	off.Rsh(off, 64)
	return off.Add(off, lo)
}

// reshardHistory draws the shard listing of a stream that started with one
// shard over the whole key space and was split and merged at random: closed
// parents and open children, in no particular order.
func reshardHistory(t *rapid.T) []source.Shard {
	type span struct {
		id     string
		lo, hi *big.Int
	}
	open := []span{{"shardId-0", big.NewInt(0), maxKey}}
	var listing []source.Shard
	next := 1
	closeShard := func(s span, parent string) {
		listing = append(listing, source.Shard{ID: s.id, ParentID: parent, HashKeyStart: s.lo.String(), HashKeyEnd: s.hi.String(), EndingSequenceNumber: "9"})
	}
	for range rapid.IntRange(0, 12).Draw(t, "reshards") {
		i := rapid.IntRange(0, len(open)-1).Draw(t, "shard")
		s := open[i]
		if rapid.Bool().Draw(t, "merge") && i+1 < len(open) {
			closeShard(s, "")
			closeShard(open[i+1], "")
			merged := span{fmt.Sprint("shardId-", next), s.lo, open[i+1].hi}
			next++
			open = slices.Replace(open, i, i+2, merged)
			continue
		}
		if s.lo.Cmp(s.hi) == 0 {
			continue
		}
		// A split at k gives [lo, k-1] and [k, hi], k in (lo, hi].
		k := drawKey(t, new(big.Int).Add(s.lo, big.NewInt(1)), s.hi, "split")
		closeShard(s, "")
		a := span{fmt.Sprint("shardId-", next), s.lo, new(big.Int).Sub(k, big.NewInt(1))}
		b := span{fmt.Sprint("shardId-", next+1), k, s.hi}
		next += 2
		open = slices.Replace(open, i, i+1, a, b)
	}
	for _, s := range open {
		listing = append(listing, source.Shard{ID: s.id, HashKeyStart: s.lo.String(), HashKeyEnd: s.hi.String()})
	}
	// ListShards orders by shard ID, not by hash key.
	for i := len(listing) - 1; i > 0; i-- {
		j := rapid.IntRange(0, i).Draw(t, "swap")
		listing[i], listing[j] = listing[j], listing[i]
	}
	return listing
}

// TestRouteFindsTheOpenShard: over random split and merge histories, route
// sends every hash key to the one open shard whose range holds it, as a
// scan of the listing finds it, and openShard's explicit hash key routes to
// the shard itself.
func TestRouteFindsTheOpenShard(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		listing := reshardHistory(t)
		open := openShards(listing)
		for _, s := range open {
			if i := route(open, s.start); i < 0 || open[i].id != s.id {
				t.Fatalf("shard %s's start key routes to %d", s.id, i)
			}
			if k, err := hashkey.Parse(s.startKey); err != nil || k != s.start {
				t.Fatalf("shard %s: startKey %q does not parse to its start", s.id, s.startKey)
			}
		}
		for range 20 {
			k := drawKey(t, big.NewInt(0), maxKey, "key")
			var want []string
			for _, sh := range listing {
				lo, _ := new(big.Int).SetString(sh.HashKeyStart, 10)
				hi, _ := new(big.Int).SetString(sh.HashKeyEnd, 10)
				if !sh.Closed() && lo.Cmp(k) <= 0 && k.Cmp(hi) <= 0 {
					want = append(want, sh.ID)
				}
			}
			if len(want) != 1 {
				t.Fatalf("key %s: %d open shards hold it: the history is wrong", k, len(want))
			}
			i := route(open, keyOf(k))
			if i < 0 || open[i].id != want[0] {
				t.Fatalf("key %s routes to %d, want %s", k, i, want[0])
			}
			if bigOf(keyOf(k)).Cmp(k) != 0 {
				t.Fatal("keyOf is wrong")
			}
		}
	})
}

// TestRouteLeavesGapsUnrouted: a listing taken mid-reshard may miss a
// range; keys in it route nowhere (the Producer sends them plain).
func TestRouteLeavesGapsUnrouted(t *testing.T) {
	open := openShards([]source.Shard{
		{ID: "a", HashKeyStart: "0", HashKeyEnd: "99"},
		{ID: "b", HashKeyStart: "200", HashKeyEnd: "340282366920938463463374607431768211455"},
		{ID: "closed", HashKeyStart: "100", HashKeyEnd: "199", EndingSequenceNumber: "5"},
		{ID: "bad", HashKeyStart: "x", HashKeyEnd: "y"},
	})
	for k, want := range map[uint64]string{0: "a", 99: "a", 100: "", 150: "", 199: "", 200: "b", 1 << 63: "b"} {
		got := ""
		if i := route(open, hashkey.Key{Lo: k}); i >= 0 {
			got = open[i].id
		}
		if got != want {
			t.Errorf("route(%d) = %q, want %q", k, got, want)
		}
	}
	if route(nil, hashkey.Max) != -1 {
		t.Error("route on no shards found one")
	}
}

// TestShardMapListsOnceThenOnRefresh: the map lists the shards at first
// use, keeps them, and lists again only when refreshed.
func TestShardMapListsOnceThenOnRefresh(t *testing.T) {
	f := newFakeKinesis("shardId-0", "shardId-1")
	f.shards[0].hashStart, f.shards[0].hashEnd = "0", "170141183460469231731687303715884105727"
	f.shards[1].hashStart, f.shards[1].hashEnd = "170141183460469231731687303715884105728", "340282366920938463463374607431768211455"
	f.pageSize = 1
	m := &shardMap{lister: f, name: "s", rc: retryConfig{backoff: defaultBackoff}}
	ctx := context.Background()
	for range 3 {
		open, err := m.current(ctx)
		if err != nil || len(open) != 2 {
			t.Fatalf("current = %v, %v; want 2 shards", open, err)
		}
	}
	if n := f.count("ListShards"); n != 2 {
		t.Fatalf("%d ListShards calls, want one listing of 2 pages", n)
	}
	f.shards[0].closed = true
	open, err := m.refresh(ctx)
	if err != nil || len(open) != 1 || open[0].id != "shardId-1" {
		t.Fatalf("refresh = %v, %v; want shardId-1 alone", open, err)
	}
}
