package dynamostore

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/internal/ddbfuzz"
)

// itemOf is the item the Store's writes leave for l: what decode must read
// back as l.
func itemOf(l checkpoint.Lease) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrKey:         str(l.Key),
		attrCounter:     ddb.Num(l.Counter),
		attrSubSequence: ddb.Num(l.SubSequence),
		attrSwitches:    ddb.Num(l.OwnerSwitchesSinceCheckpoint),
	}
	for name, v := range map[string]string{attrOwner: l.Owner, attrCheckpoint: l.Checkpoint, attrPendingOwner: l.PendingOwner} {
		if v != "" {
			item[name] = str(v)
		}
	}
	if len(l.Parents) > 0 {
		item[attrParents] = &types.AttributeValueMemberSS{Value: l.Parents}
	}
	if len(l.State) > 0 {
		item[attrState] = &types.AttributeValueMemberB{Value: l.State}
	}
	return item
}

// FuzzDecode feeds decode every item the fuzzer can build: it must never
// panic, must explain a refusal, and what it accepts must survive being
// written back and read again.
func FuzzDecode(f *testing.F) {
	full := checkpoint.Lease{
		Key: "shardId-000000000002", Owner: "w1", Counter: 41, Checkpoint: "49590338271490256608559692538361571095921575989136588898",
		SubSequence: 3, Parents: []string{"shardId-000000000000", "shardId-000000000001"}, OwnerSwitchesSinceCheckpoint: 2,
		PendingOwner: "w2", State: []byte{0, 1, 2, 0xff},
	}
	seeds := []map[string]types.AttributeValue{
		itemOf(full),
		itemOf(checkpoint.Lease{Key: "shardId-000000000000", Checkpoint: checkpoint.TrimHorizon}),
		// What the Java KCL writes for a lease nobody holds.
		{attrKey: str("shardId-000000000003"), attrCounter: ddb.Num(0), attrCheckpoint: str(checkpoint.ShardEnd),
			attrOwner: &types.AttributeValueMemberNULL{Value: true}, attrParents: str("shardId-000000000000")},
		// Corrupt ones.
		{},
		{attrKey: ddb.Num(1)},
		{attrKey: str("k"), attrCounter: &types.AttributeValueMemberN{Value: "1e99"}},
		{attrKey: str("k"), attrParents: &types.AttributeValueMemberNS{Value: []string{"1"}}},
		{attrKey: str("k"), attrState: str("not binary")},
	}
	for _, item := range seeds {
		f.Add(ddbfuzz.Encode(item))
	}
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte("\x08leaseKey\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		item := ddbfuzz.Decode(data)
		l, err := decode(item)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "checkpoint/dynamostore: ") {
				t.Fatalf("decode error %q does not say where it comes from", err)
			}
			return
		}
		if k, ok := item[attrKey].(*types.AttributeValueMemberS); !ok || l.Key == "" || l.Key != k.Value {
			t.Fatalf("decode accepted item %v as lease %q", item, l.Key)
		}
		again, err := decode(itemOf(l))
		if err != nil {
			t.Fatalf("decode of the item written for %+v: %v", l, err)
		}
		if d := cmp.Diff(l, again, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("lease changed when written and read again (-first +again):\n%s", d)
		}
	})
}
