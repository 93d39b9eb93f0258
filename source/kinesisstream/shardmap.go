package kinesisstream

import (
	"context"
	"slices"
	"sync"

	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source"
)

// shardMap routes hash keys to the open shards of a stream, as the last
// listing showed them. A Producer with aggregation packs the records of one
// shard together by it. It lists the shards at first use and again when
// told to (a put landed on a shard it did not predict: the stream was
// resharded since).
//
// The zero value is not usable; a Producer makes one. It is safe for
// concurrent use. Routing is O(log shards); a listing is one ListShards call
// per page.
type shardMap struct {
	lister shardLister
	name   string
	rc     retryConfig

	mu   sync.Mutex
	open []openShard // nil until listed; never changed, only replaced
}

// openShard is an open shard's ID and hash key range, both ends included.
type openShard struct {
	id         string
	start, end hashkey.Key
	// startKey is start in decimal, as an explicit hash key that puts a
	// record on this shard.
	startKey string
}

func (s openShard) contains(k hashkey.Key) bool {
	return s.start.Compare(k) <= 0 && k.Compare(s.end) <= 0
}

// current returns the open shards, listing them if no listing was made yet.
func (m *shardMap) current(ctx context.Context) ([]openShard, error) {
	m.mu.Lock()
	open := m.open
	m.mu.Unlock()
	if open != nil {
		return open, nil
	}
	return m.refresh(ctx)
}

// refresh lists the shards again and returns the open ones.
func (m *shardMap) refresh(ctx context.Context) ([]openShard, error) {
	shards, err := listShards(ctx, m.lister, m.name, m.rc)
	if err != nil {
		return nil, err
	}
	open := openShards(shards)
	m.mu.Lock()
	m.open = open
	m.mu.Unlock()
	return open, nil
}

// openShards returns the open shards of a listing, sorted by hash key. A
// listing never leaves it empty (non-nil), so that current can tell a
// listed stream from one not listed yet.
func openShards(shards []source.Shard) []openShard {
	open := make([]openShard, 0, len(shards))
	for _, sh := range shards {
		if sh.Closed() {
			continue
		}
		start, err1 := hashkey.Parse(sh.HashKeyStart)
		end, err2 := hashkey.Parse(sh.HashKeyEnd)
		if err1 != nil || err2 != nil {
			continue
		}
		open = append(open, openShard{id: sh.ID, start: start, end: end, startKey: sh.HashKeyStart})
	}
	slices.SortFunc(open, func(a, b openShard) int { return a.start.Compare(b.start) })
	return open
}

// route returns the index in open (sorted by start) of the shard whose
// range holds k, or -1 if none does: a listing taken in the middle of a
// reshard may show a range without its open shard.
func route(open []openShard, k hashkey.Key) int {
	// The last shard starting at or below k is the only one that can hold it.
	i, found := slices.BinarySearchFunc(open, k, func(s openShard, k hashkey.Key) int { return s.start.Compare(k) })
	if !found {
		i--
	}
	if i < 0 || !open[i].contains(k) {
		return -1
	}
	return i
}

// byID returns the open shard called id, or false.
func byID(open []openShard, id string) (openShard, bool) {
	for _, s := range open {
		if s.id == id {
			return s, true
		}
	}
	return openShard{}, false
}
