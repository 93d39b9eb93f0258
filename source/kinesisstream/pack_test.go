package kinesisstream

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// TestPackKeepsEveryRecordOnItsShard checks pack against what a reader
// needs: every record in exactly one entry, a shard's records in Put order,
// each aggregated record within the size, decoding to its records, all of
// them on the shard its explicit hash key routes to; lone and oversized
// records plain.
func TestPackKeepsEveryRecordOnItsShard(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		open := openShards(reshardHistory(t))
		size := rapid.IntRange(1<<10, 8<<10).Draw(t, "aggSize")
		p := &Producer{cfg: &producerConfig{aggSize: size}, shards: &shardMap{open: open}}
		keys := rapid.SliceOfN(rapid.StringMatching(`[a-zé]{1,12}`), 1, 20).Draw(t, "keys")
		var recs []*pending
		for i := range rapid.IntRange(0, 300).Draw(t, "records") {
			key := rapid.SampledFrom(keys).Draw(t, "key")
			n := rapid.IntRange(0, 300).Draw(t, "size")
			if rapid.IntRange(0, 20).Draw(t, "large") == 0 {
				n = rapid.IntRange(size-50, 2*size).Draw(t, "largeSize")
			}
			data := append([]byte(fmt.Sprint(i, ":")), make([]byte, n)...)
			recs = append(recs, &pending{key: key, data: data, size: len(key) + len(data)})
		}
		entries, err := p.pack(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[*pending]bool{}
		lastOnShard := map[string]int{} // shard -> index of its last record seen
		index := map[*pending]int{}
		for i, r := range recs {
			index[r] = i
		}
		var dec kpl.Decoder
		for _, e := range entries {
			for _, r := range e.recs {
				if seen[r] {
					t.Fatalf("record %s packed twice", r.data[:4])
				}
				seen[r] = true
				sh := "unrouted"
				if i := route(open, hashkey.Of(r.key)); i >= 0 {
					sh = open[i].id
				}
				if last, ok := lastOnShard[sh]; ok && last > index[r] {
					t.Fatalf("shard %s: record %d packed after record %d", sh, index[r], last)
				}
				lastOnShard[sh] = index[r]
			}
			if e.shard == "" {
				if len(e.recs) != 1 || e.hashKey != "" || e.key != e.recs[0].key || !bytes.Equal(e.data, e.recs[0].data) {
					t.Fatalf("plain entry %+v does not carry its one record as it is", e)
				}
				continue
			}
			if len(e.recs) < 2 {
				t.Fatalf("aggregated record of %d records; a lone one goes plain", len(e.recs))
			}
			if e.size() > size {
				t.Fatalf("aggregated record of %d bytes, limit %d", e.size(), size)
			}
			hk, err := hashkey.Parse(e.hashKey)
			if i := route(open, hk); err != nil || i < 0 || open[i].id != e.shard {
				t.Fatalf("explicit hash key %q does not route to shard %s", e.hashKey, e.shard)
			}
			subs, err := dec.Decode(nil, e.data)
			if err != nil || len(subs) != len(e.recs) {
				t.Fatalf("aggregated record decodes to %d records (%v), want %d", len(subs), err, len(e.recs))
			}
			for i, sub := range subs {
				r := e.recs[i]
				if sub.PartitionKey != r.key || !bytes.Equal(sub.Data, r.data) {
					t.Fatalf("sub-record %d is %q/%q, want %q/%q", i, sub.PartitionKey, sub.Data[:2], r.key, r.data[:2])
				}
				if i := route(open, hashkey.Of(r.key)); open[i].id != e.shard {
					t.Fatalf("record of key %q, on shard %s, packed for %s", r.key, open[i].id, e.shard)
				}
			}
		}
		if len(seen) != len(recs) {
			t.Fatalf("%d of %d records packed", len(seen), len(recs))
		}

		maxRecords := rapid.IntRange(1, 20).Draw(t, "maxRecords")
		maxBytes := rapid.IntRange(1, 4*size).Draw(t, "maxBytes")
		for rest := entries; len(rest) > 0; {
			n := requestSize(rest, maxRecords, maxBytes)
			bytes := 0
			for _, e := range rest[:n] {
				bytes += e.size()
			}
			if n < 1 || n > maxRecords || n > 1 && bytes > maxBytes {
				t.Fatalf("requestSize = %d entries of %d bytes, limits %d and %d", n, bytes, maxRecords, maxBytes)
			}
			if n < len(rest) && n < maxRecords && bytes+rest[n].size() <= maxBytes {
				t.Fatalf("requestSize = %d, but the next entry fits too", n)
			}
			rest = rest[n:]
		}
	})
}
