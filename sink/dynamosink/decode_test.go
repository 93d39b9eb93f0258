package dynamosink

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// itemOf is the item that writing snaps (in order, all of one group and
// time) leaves, as UpdateItem builds it: each sets and removes its own
// attributes.
func itemOf(s *Sink, snaps ...sink.Snapshot) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrResource:  &types.AttributeValueMemberS{Value: snaps[0].Group},
		attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(snaps[0].Time)},
	}
	for _, snap := range snaps {
		set, remove, err := s.snapshotAttrs(snap)
		if err != nil {
			panic(err)
		}
		maps.Copy(item, set)
		for _, name := range remove {
			delete(item, name)
		}
	}
	return item
}

func TestDecodeRejectsMalformedItems(t *testing.T) {
	s := &Sink{ttl: DefaultTTL}
	at := time.Date(2026, 11, 25, 20, 4, 5, 678e6, time.UTC) // date-proof: decode never compares with now
	good := func() map[string]types.AttributeValue {
		return itemOf(s,
			sink.Snapshot{Group: "/index.html", Time: at, Counts: []topk.Entry[string]{{Key: "r", Count: 1}}},
			sink.Snapshot{Group: "/index.html", Time: at, Shard: "shard-1", Floor: 2, Host: "h", Counts: []topk.Entry[string]{{Key: "r", Count: 3}}})
	}
	entry := func(m map[string]types.AttributeValue) map[string]types.AttributeValue {
		return m[attrCounts].(*types.AttributeValueMemberL).Value[0].(*types.AttributeValueMemberM).Value
	}
	part := func(m map[string]types.AttributeValue) map[string]types.AttributeValue {
		return m["p#shard-1"].(*types.AttributeValueMemberM).Value
	}
	tests := []struct {
		name   string
		change func(map[string]types.AttributeValue)
		attr   string // the attribute the error must name; "" for none
	}{
		{"no resource", func(m map[string]types.AttributeValue) { delete(m, attrResource) }, "resource"},
		{"no timestamp", func(m map[string]types.AttributeValue) { delete(m, attrTimestamp) }, "timestamp"},
		{"timestamp not ISO-8601", func(m map[string]types.AttributeValue) {
			m[attrTimestamp] = &types.AttributeValueMemberS{Value: "1732565045678"}
		}, "timestamp"},
		{"host a number", func(m map[string]types.AttributeValue) { m[attrHost] = ddb.Num(1) }, "host"},
		{"window not a number", func(m map[string]types.AttributeValue) { m[attrWindow] = &types.AttributeValueMemberN{Value: "ten"} }, "windowMs"},
		{"window negative", func(m map[string]types.AttributeValue) { m[attrWindow] = ddb.Num(-1) }, "windowMs"},
		{"expiry a string", func(m map[string]types.AttributeValue) { m[attrExpiresAt] = &types.AttributeValueMemberS{Value: "1"} }, "expiresAt"},
		{"counts a map", func(m map[string]types.AttributeValue) { m[attrCounts] = &types.AttributeValueMemberM{} }, "referrerCounts"},
		{"count entry a string", func(m map[string]types.AttributeValue) {
			m[attrCounts] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "r"}}}
		}, "referrerCounts"},
		{"entry without referrer", func(m map[string]types.AttributeValue) { delete(entry(m), attrReferrer) }, "referrerCounts"},
		{"count a string", func(m map[string]types.AttributeValue) {
			entry(m)[attrCount] = &types.AttributeValueMemberS{Value: "1"}
		}, "referrerCounts"},
		{"err overflows", func(m map[string]types.AttributeValue) {
			entry(m)[attrErr] = &types.AttributeValueMemberN{Value: "1e30"}
		}, "referrerCounts"},
		{"floor negative", func(m map[string]types.AttributeValue) { m[attrFloor] = ddb.Num(-3) }, "floor"},
		{"partial a list", func(m map[string]types.AttributeValue) { m["p#shard-1"] = &types.AttributeValueMemberL{} }, `"p#shard-1"`},
		{"partial counts a list", func(m map[string]types.AttributeValue) {
			part(m)[attrPartCounts] = &types.AttributeValueMemberL{}
		}, `"p#shard-1"`},
		{"partial counts not JSON", func(m map[string]types.AttributeValue) {
			part(m)[attrPartCounts] = &types.AttributeValueMemberS{Value: "x"}
		}, `"p#shard-1"`},
		{"partial entry without key", func(m map[string]types.AttributeValue) {
			part(m)[attrPartCounts] = &types.AttributeValueMemberS{Value: `[{"c":1}]`}
		}, `"p#shard-1"`},
		{"partial count overflows", func(m map[string]types.AttributeValue) {
			part(m)[attrPartCounts] = &types.AttributeValueMemberS{Value: `[{"k":"a","c":1e30}]`}
		}, `"p#shard-1"`},
		{"partial floor a string", func(m map[string]types.AttributeValue) {
			part(m)[attrPartFloor] = &types.AttributeValueMemberS{Value: "1"}
		}, `"p#shard-1"`},
		{"partial host a number", func(m map[string]types.AttributeValue) { part(m)[attrPartHost] = ddb.Num(1) }, `"p#shard-1"`},
		{"partial without a shard", func(m map[string]types.AttributeValue) { m["p#"] = m["p#shard-1"] }, `"p#"`},
		{"partial of a shard not UTF-8", func(m map[string]types.AttributeValue) { m["p#\xff"] = m["p#shard-1"] }, `"p#\xff"`},
	}
	if snaps, _, err := decodeItem(nil, good()); err != nil || len(snaps) != 2 {
		t.Fatalf("decode of a good item = %d snapshots, %v; want 2", len(snaps), err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := good()
			tt.change(item)
			dst := []sink.Snapshot{{Group: "before"}}
			got, _, err := decodeItem(dst, item)
			if err == nil {
				t.Fatalf("decode = %+v, nil; want an error", got)
			}
			if len(got) != 1 {
				t.Errorf("decode appended %d snapshots with its error", len(got)-1)
			}
			if !strings.Contains(err.Error(), tt.attr) {
				t.Errorf("error %q does not name %s", err, tt.attr)
			}
			if _, ok := item[attrTimestamp]; ok && tt.attr != "resource" && !strings.Contains(err.Error(), `"/index.html"`) {
				t.Errorf("error %q does not name the item", err)
			}
		})
	}
}

func TestDecodeItemKinds(t *testing.T) {
	s := &Sink{ttl: time.Hour}
	at := time.Date(2026, 11, 25, 20, 4, 5, 0, time.UTC) // date-proof: decode never compares with now
	whole := sink.Snapshot{Group: "g", Time: at, Window: time.Second, Host: "w", Floor: 3, Counts: []topk.Entry[string]{{Key: "a", Count: 9}}}
	pa := sink.Snapshot{Group: "g", Time: at, Window: time.Second, Shard: "a", Counts: []topk.Entry[string]{{Key: "a", Count: 2, Err: 1}}}
	pb := sink.Snapshot{Group: "g", Time: at, Window: time.Second, Shard: "b", Host: "hb", Floor: 1}
	tests := []struct {
		name  string
		write []sink.Snapshot
		want  []sink.Snapshot
	}{
		{"whole", []sink.Snapshot{whole}, []sink.Snapshot{whole}},
		{"partials", []sink.Snapshot{pa, pb}, []sink.Snapshot{pa, pb}},
		{"whole beside partials", []sink.Snapshot{pa, whole, pb}, []sink.Snapshot{whole, pa, pb}},
		{"partial rewritten", []sink.Snapshot{pa, pb, func() sink.Snapshot { p := pa; p.Counts = nil; return p }()},
			[]sink.Snapshot{{Group: "g", Time: at, Window: time.Second, Shard: "a", Counts: []topk.Entry[string]{}}, pb}},
		{"whole rewritten without host or floor", []sink.Snapshot{whole, {Group: "g", Time: at}}, []sink.Snapshot{{Group: "g", Time: at, Counts: []topk.Entry[string]{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, expires, err := decodeItem(nil, itemOf(s, tt.write...))
			if err != nil {
				t.Fatal(err)
			}
			if !expires.Equal(at.Add(time.Hour)) {
				t.Errorf("expires %v; want %v", expires, at.Add(time.Hour))
			}
			slices.SortFunc(got, func(a, b sink.Snapshot) int { return strings.Compare(a.Shard, b.Shard) })
			if d := diffSnaps(tt.want, got); d != "" {
				t.Errorf("decoded (-want +got):\n%s", d)
			}
		})
	}
}
