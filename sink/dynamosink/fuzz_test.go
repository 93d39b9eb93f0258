package dynamosink

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/internal/ddbfuzz"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

func diffSnaps(want, got []sink.Snapshot) string { return cmp.Diff(want, got, cmpopts.EquateEmpty()) }

func byShard(snaps []sink.Snapshot) []sink.Snapshot {
	slices.SortFunc(snaps, func(a, b sink.Snapshot) int { return strings.Compare(a.Shard, b.Shard) })
	return snaps
}

// FuzzDecode feeds decodeItem every item the fuzzer can build: it must never
// panic, must explain a refusal, and the snapshots it accepts (a whole one,
// partials, or both) must be ones the Sink can write and read back
// unchanged.
func FuzzDecode(f *testing.F) {
	s := &Sink{ttl: DefaultTTL}
	at := time.Date(2026, 11, 25, 20, 4, 5, 678e6, time.UTC) // date-proof: decode never compares with now
	whole := sink.Snapshot{Group: "/index.html", Time: at, Window: 10 * time.Second, Host: "w1", Floor: 2,
		Counts: []topk.Entry[string]{{Key: "google.com", Count: 12}, {Key: "bing.com", Count: 3, Err: 1}}}
	pa, pb := whole, whole
	pa.Shard, pb.Shard, pb.Host, pb.Counts = "shardId-000000000001", "b", "", nil
	seeds := []map[string]types.AttributeValue{
		itemOf(s, whole),
		itemOf(s, sink.Snapshot{Group: "g", Time: at}),
		itemOf(s, pa, pb),
		itemOf(s, pa, whole),
		// As the original sample wrote it: no window, no expiry.
		{attrResource: &types.AttributeValueMemberS{Value: "/about"}, attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(at)}},
		// Corrupt ones.
		{},
		{attrResource: &types.AttributeValueMemberS{Value: "g"}, attrTimestamp: &types.AttributeValueMemberS{Value: "yesterday"}},
		{attrResource: &types.AttributeValueMemberS{Value: "g"}, attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(at)},
			attrWindow: &types.AttributeValueMemberN{Value: "9223372036854775807"}},
		{attrResource: &types.AttributeValueMemberS{Value: "g"}, attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(at)},
			attrCounts: &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}}},
		{attrResource: &types.AttributeValueMemberS{Value: "g"}, attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(at)},
			"p#a": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{attrPartCounts: &types.AttributeValueMemberM{}}}},
	}
	for _, item := range seeds {
		f.Add(ddbfuzz.Encode(item))
	}
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		item := ddbfuzz.Decode(data)
		snaps, _, err := decodeItem(nil, item)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sink/dynamosink: ") {
				t.Fatalf("decode error %q does not say where it comes from", err)
			}
			if g, ok := item[attrResource].(*types.AttributeValueMemberS); ok && !strings.Contains(err.Error(), strconv.Quote(g.Value)) {
				t.Fatalf("decode error %q does not name the item's group %q", err, g.Value)
			}
			return
		}
		if len(snaps) == 0 {
			t.Fatal("decode accepted an item holding no snapshot")
		}
		for _, snap := range snaps {
			if w, ok := item[attrWindow].(*types.AttributeValueMemberN); ok {
				if ms, err := strconv.ParseInt(w.Value, 10, 64); err != nil || int64(snap.Window/time.Millisecond) != ms {
					t.Fatalf("%s %q read as a window of %v", attrWindow, w.Value, snap.Window)
				}
			}
			if err := validate(snap); err != nil {
				t.Fatalf("decode accepted a snapshot the Sink would refuse to write: %v", err)
			}
		}
		again, _, err := decodeItem(nil, itemOf(s, snaps...))
		if err != nil {
			t.Fatalf("decode of the item written for %+v: %v", snaps, err)
		}
		if d := diffSnaps(byShard(snaps), byShard(again)); d != "" {
			t.Fatalf("snapshots changed when written and read again (-first +again):\n%s", d)
		}
	})
}

// FuzzDecodeProgress does the same for the progress item: no panic, an
// error that names the attribute, and progress that is written and read
// back unchanged.
func FuzzDecodeProgress(f *testing.F) {
	at := time.Date(2026, 11, 25, 20, 4, 5, 0, time.UTC) // date-proof: decode never compares with now
	full := sink.Progress{Shard: "shardId-000000000002", Parents: []string{"shardId-000000000000", "shardId-000000000001"},
		HashKeyStart: "0", HashKeyEnd: "340282366920938463463374607431768211455", Bucket: time.Second,
		From: at, Through: at.Add(time.Minute), Ended: true, Host: "w1"}
	item := func(ps ...sink.Progress) map[string]types.AttributeValue {
		m := map[string]types.AttributeValue{attrResource: &types.AttributeValueMemberS{Value: progressGroup}}
		for i, p := range ps {
			m[progressPrefix+p.Shard] = encodeProgress(p, int64(i+1))
		}
		return m
	}
	seeds := []map[string]types.AttributeValue{
		item(full),
		item(sink.Progress{Shard: "a"}, full),
		{"s#a": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{attrParents: &types.AttributeValueMemberSS{Value: []string{"x"}}}}},
		{"s#a": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{attrThrough: &types.AttributeValueMemberS{Value: "now"}}}},
		{"s#": &types.AttributeValueMemberM{}},
	}
	for _, it := range seeds {
		f.Add(ddbfuzz.Encode(it))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		it := ddbfuzz.Decode(data)
		ps, err := decodeProgressItem(it)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sink/dynamosink: item (\"streamtop#progress\"") {
				t.Fatalf("decode error %q does not name the item", err)
			}
			named := false
			for name := range it {
				named = named || strings.HasPrefix(name, progressPrefix) && strings.Contains(err.Error(), strconv.Quote(name))
			}
			if !named {
				t.Fatalf("decode error %q does not name the attribute", err)
			}
			return
		}
		for _, p := range ps {
			if err := validateProgress(p); err != nil {
				t.Fatalf("decode accepted progress WriteProgress would refuse: %v", err)
			}
			again, _, err := decodeShardProgress(p.Shard, encodeProgress(p, 1))
			if err != nil {
				t.Fatalf("decode of the attribute written for %+v: %v", p, err)
			}
			if d := cmp.Diff(p, again, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("progress changed when written and read again (-first +again):\n%s", d)
			}
		}
	})
}
