package kpl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// nodeRecord is a record as testdata/agg.js reads and writes it.
type nodeRecord struct {
	PartitionKey      string `json:"partitionKey"`
	ExplicitHashKey   string `json:"explicitHashKey,omitempty"`
	SubSequenceNumber *int   `json:"subSequenceNumber,omitempty"`
	Data              []byte `json:"data"` // base64 in JSON, as the script wants
}

// runNode runs testdata/agg.js in mode with in as its input.
func runNode(t *testing.T, mode string, in []nodeRecord) []nodeRecord {
	t.Helper()
	modules := awstest.NodeModules(t)
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/agg.js", mode)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node agg.js %s: %v\n%s", mode, err, stderr.Bytes())
	}
	var res []nodeRecord
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node agg.js %s printed %.200q: %v", mode, out, err)
	}
	return res
}

// interopRecords returns user records for the interop tests: shared and
// distinct keys, non-ASCII keys, explicit hash keys on some, empty data, and
// enough bytes in all that both sides need several aggregated records.
//
// With smallInts, some explicit hash keys are small integers ("0", "1"),
// which aws-kinesis-agg 4.2.8 cannot aggregate: it builds its key tables
// from a JavaScript object's keys, and JavaScript lists keys that look like
// array indexes (integers below 2^32-1) first, whatever order they were
// added in, so records index the wrong keys. Partition keys are never such
// integers here, for the same reason.
func interopRecords(withEHK, smallInts bool) []kpl.Record {
	rng := rand.New(rand.NewPCG(17, 1))
	keys := []string{"referrer", "ключ", "页面", "k"}
	var rs []kpl.Record
	for i := range 3000 {
		r := kpl.Record{PartitionKey: keys[rng.IntN(len(keys))]}
		if rng.IntN(3) == 0 {
			r.PartitionKey = "user-" + strconv.Itoa(i)
		}
		n := rng.IntN(2000)
		if i%500 == 0 {
			n = 0
		}
		r.Data = make([]byte, n)
		for j := range r.Data {
			r.Data[j] = byte(rng.Uint32())
		}
		if withEHK && rng.IntN(4) == 0 {
			r.ExplicitHashKey = "340282366920938463463374607431768211455"
			if rng.IntN(2) == 0 {
				r.ExplicitHashKey = strconv.FormatUint(rng.Uint64()|1<<40, 10)
			}
			if smallInts && rng.IntN(3) == 0 {
				r.ExplicitHashKey = strconv.Itoa(rng.IntN(2))
			}
		}
		rs = append(rs, r)
	}
	return rs
}

// TestNodeAggregatesGoDecodes: records aggregated by aws-kinesis-agg decode
// in Go equal to what went in, in order, with their keys.
func TestNodeAggregatesGoDecodes(t *testing.T) {
	for _, withEHK := range []bool{false, true} {
		t.Run(fmt.Sprintf("withEHK=%v", withEHK), func(t *testing.T) {
			want := interopRecords(withEHK, false)
			in := make([]nodeRecord, len(want))
			for i, r := range want {
				in[i] = nodeRecord{PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: r.Data}
			}
			aggs := runNode(t, "aggregate", in)
			if len(aggs) < 2 {
				t.Fatalf("aws-kinesis-agg made %d aggregated records of %d user records; want several", len(aggs), len(in))
			}
			var d kpl.Decoder
			var got []kpl.Record
			for i, agg := range aggs {
				n := len(got)
				var err error
				if got, err = d.Decode(got, agg.Data); err != nil {
					t.Fatalf("aggregated record %d of %d: %v", i, len(aggs), err)
				}
				if agg.PartitionKey != got[n].PartitionKey {
					t.Errorf("aggregated record %d has partition key %q, its first record %q", i, agg.PartitionKey, got[n].PartitionKey)
				}
			}
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Fatalf("Go's decoding of aws-kinesis-agg's records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGoAggregatesNodeDecodes: records aggregated in Go are deaggregated by
// aws-kinesis-agg, checksums checked, equal to what went in.
func TestGoAggregatesNodeDecodes(t *testing.T) {
	for _, withEHK := range []bool{false, true} {
		t.Run(fmt.Sprintf("withEHK=%v", withEHK), func(t *testing.T) {
			records := interopRecords(withEHK, true)
			var a kpl.Aggregator
			aggs := aggregate(t, &a, records)
			if len(aggs) < 2 {
				t.Fatalf("%d aggregated records; want several", len(aggs))
			}
			in := make([]nodeRecord, len(aggs))
			var want []nodeRecord
			next := 0
			for i, agg := range aggs {
				in[i] = nodeRecord{PartitionKey: agg.PartitionKey, Data: agg.Data}
				subs, err := new(kpl.Decoder).Decode(nil, agg.Data)
				if err != nil {
					t.Fatal(err)
				}
				// aws-kinesis-agg reports, for a sub-record without an
				// explicit hash key, the first of its aggregated record's
				// table (protobufjs reads the absent index as 0).
				firstEHK := ""
				for _, r := range subs {
					if r.ExplicitHashKey != "" {
						firstEHK = r.ExplicitHashKey
						break
					}
				}
				for j := range subs {
					r := records[next]
					next++
					ehk := r.ExplicitHashKey
					if ehk == "" {
						ehk = firstEHK
					}
					want = append(want, nodeRecord{PartitionKey: r.PartitionKey, ExplicitHashKey: ehk, SubSequenceNumber: &j, Data: r.Data})
				}
			}
			got := runNode(t, "deaggregate", in)
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Fatalf("aws-kinesis-agg's deaggregation of Go's records (-want +got):\n%s", diff)
			}
		})
	}
}
