package dynamostore

import (
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/ddb"
)

// Attribute names. All but attrPendingOwner are the Java KCL's, so a lease
// table written by streamtop reads the same in the console, the AWS CLI and
// KCL tooling. The KCL has no attribute for a requested hand-off; KCL 3's
// checkpointOwner means something else (the old owner during a hand-off that
// has already moved leaseOwner), so the request gets a name of its own, as
// does the processor's state (a binary attribute the KCL ignores).
const (
	attrKey          = "leaseKey"
	attrOwner        = "leaseOwner"
	attrCounter      = "leaseCounter"
	attrCheckpoint   = "checkpoint"
	attrSubSequence  = "checkpointSubSequenceNumber"
	attrSwitches     = "ownerSwitchesSinceCheckpoint"
	attrParents      = "parentShardId"
	attrPendingOwner = "pendingOwner"
	attrState        = "processorState"
)

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: str(key)}
}

// decode reads a lease table item. Missing attributes read as zero values,
// as the KCL leaves some out (no owner, no parents). Parents come back
// sorted: a string set has no order.
func decode(item map[string]types.AttributeValue) (checkpoint.Lease, error) {
	var l checkpoint.Lease
	var err error
	if l.Key, err = getS(item, attrKey); err != nil {
		return l, fmt.Errorf("checkpoint/dynamostore: item with a bad %s: %w", attrKey, err)
	}
	if l.Key == "" {
		return l, fmt.Errorf("checkpoint/dynamostore: item without %s", attrKey)
	}
	fail := func(err error) (checkpoint.Lease, error) {
		return checkpoint.Lease{}, fmt.Errorf("checkpoint/dynamostore: lease %q: %w", l.Key, err)
	}
	if l.Owner, err = getS(item, attrOwner); err != nil {
		return fail(err)
	}
	if l.Counter, err = ddb.GetN(item, attrCounter); err != nil {
		return fail(err)
	}
	if l.Checkpoint, err = getS(item, attrCheckpoint); err != nil {
		return fail(err)
	}
	if l.SubSequence, err = ddb.GetN(item, attrSubSequence); err != nil {
		return fail(err)
	}
	if l.OwnerSwitchesSinceCheckpoint, err = ddb.GetN(item, attrSwitches); err != nil {
		return fail(err)
	}
	if l.PendingOwner, err = getS(item, attrPendingOwner); err != nil {
		return fail(err)
	}
	switch v := item[attrState].(type) {
	case nil, *types.AttributeValueMemberNULL:
	case *types.AttributeValueMemberB:
		if len(v.Value) > 0 {
			l.State = v.Value
		}
	default:
		return fail(fmt.Errorf("%s has type %T, want binary", attrState, v))
	}
	switch v := item[attrParents].(type) {
	case nil:
	case *types.AttributeValueMemberSS:
		l.Parents = slices.Sorted(slices.Values(v.Value))
	case *types.AttributeValueMemberS:
		// Older KCL versions wrote a single parent as a plain string.
		l.Parents = []string{v.Value}
	default:
		return fail(fmt.Errorf("%s has type %T, want a string set", attrParents, v))
	}
	return l, nil
}

func getS(item map[string]types.AttributeValue, name string) (string, error) {
	switch v := item[name].(type) {
	case nil:
		return "", nil
	case *types.AttributeValueMemberS:
		return v.Value, nil
	case *types.AttributeValueMemberNULL:
		return "", nil
	default:
		return "", fmt.Errorf("%s has type %T, want a string", name, v)
	}
}
