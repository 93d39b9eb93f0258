package kinesisstream

import (
	"context"
	"errors"

	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// entry is one PutRecords entry: a user record as it is, or, with
// aggregation, an aggregated record of user records bound for one shard.
type entry struct {
	key     string // partition key
	hashKey string // explicit hash key; "" routes by key
	data    []byte
	// shard is the shard an aggregated record was packed for, "" for a
	// plain record, which Kinesis routes by its own key.
	shard string
	recs  []*pending // the user records it carries, in Put order
}

func (e *entry) size() int { return len(e.key) + len(e.data) }

// aggOverhead bounds what the aggregated format adds to a user record
// beside its key and data: the record's field header and length (4 bytes),
// the key's index (4) and the data's header and length (4). A key is stored
// once per aggregated record, so counting it with each record bounds it too.
const aggOverhead = 12

// pack turns a batch of user records into PutRecords entries. Without
// aggregation each record is an entry. With it, the records of each shard
// (by the shard map) go into aggregated records of at most the configured
// size, in Put order, each with an explicit hash key in its shard's range;
// a shard's lone record, a record too large to share, and a record the map
// routes nowhere go plain, routed by their own keys. It fails only when the
// shards cannot be listed.
func (p *Producer) pack(ctx context.Context, recs []*pending) ([]entry, error) {
	if p.shards == nil {
		entries := make([]entry, len(recs))
		for i, r := range recs {
			entries[i] = entry{key: r.key, data: r.data, recs: recs[i : i+1]}
		}
		return entries, nil
	}
	open, err := p.shards.current(ctx)
	if err != nil {
		return nil, err
	}
	// Group by shard, keeping Put order within each; unrouted records go
	// plain.
	groups := make([][]*pending, len(open))
	var entries []entry
	for _, r := range recs {
		i := route(open, hashkey.Of(r.key))
		if i < 0 {
			entries = append(entries, entry{key: r.key, data: r.data, recs: []*pending{r}})
			continue
		}
		groups[i] = append(groups[i], r)
	}
	agg := kpl.Aggregator{MaxSize: p.cfg.aggSize}
	for i, group := range groups {
		entries = appendAggregated(entries, &agg, open[i], group)
	}
	return entries, nil
}

// appendAggregated appends the entries of one shard's records to entries.
func appendAggregated(entries []entry, agg *kpl.Aggregator, shard openShard, group []*pending) []entry {
	first := 0 // group[first:i] is in agg
	flush := func(i int) {
		if agg.Len() == 1 {
			// One record gains nothing from the format and, plain, cannot
			// land on the wrong shard.
			agg.Reset()
			r := group[first]
			entries = append(entries, entry{key: r.key, data: r.data, recs: group[first:i]})
		} else if out, ok := agg.Flush(); ok {
			entries = append(entries, entry{key: out.PartitionKey, hashKey: shard.startKey, data: out.Data, shard: shard.id, recs: group[first:i]})
		}
		first = i
	}
	for i, r := range group {
		err := agg.Add(kpl.Record{PartitionKey: r.key, Data: r.data})
		if errors.Is(err, kpl.ErrFull) {
			flush(i)
			err = agg.Add(kpl.Record{PartitionKey: r.key, Data: r.data})
		}
		if err != nil {
			// Too large to share an aggregated record (Put checked the
			// keys): it goes alone.
			flush(i)
			entries = append(entries, entry{key: r.key, data: r.data, recs: group[i : i+1]})
			first = i + 1
		}
	}
	flush(len(group))
	return entries
}

// requestSize returns how many of entries, from the first, fit in one
// PutRecords request within the limits; at least one.
func requestSize(entries []entry, maxRecords, maxBytes int) int {
	bytes := 0
	for i := range entries {
		bytes += entries[i].size()
		if i == maxRecords || i > 0 && bytes > maxBytes {
			return i
		}
	}
	return len(entries)
}
