package dynamostore

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/ddb"
)

func TestDecodeRejectsMalformedItems(t *testing.T) {
	good := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			attrKey:     str("shard-0"),
			attrCounter: ddb.Num(3),
		}
	}
	tests := []struct {
		name   string
		change func(map[string]types.AttributeValue)
	}{
		{"no key", func(m map[string]types.AttributeValue) { delete(m, attrKey) }},
		{"numeric key", func(m map[string]types.AttributeValue) { m[attrKey] = ddb.Num(1) }},
		{"counter not a number", func(m map[string]types.AttributeValue) { m[attrCounter] = &types.AttributeValueMemberN{Value: "x"} }},
		{"counter a string", func(m map[string]types.AttributeValue) { m[attrCounter] = str("3") }},
		{"counter too big", func(m map[string]types.AttributeValue) {
			m[attrCounter] = &types.AttributeValueMemberN{Value: "99999999999999999999"}
		}},
		{"owner a number", func(m map[string]types.AttributeValue) { m[attrOwner] = ddb.Num(1) }},
		{"checkpoint a number", func(m map[string]types.AttributeValue) { m[attrCheckpoint] = ddb.Num(1) }},
		{"sub-sequence a string", func(m map[string]types.AttributeValue) { m[attrSubSequence] = str("1") }},
		{"switches a bool", func(m map[string]types.AttributeValue) { m[attrSwitches] = &types.AttributeValueMemberBOOL{} }},
		{"pending owner a list", func(m map[string]types.AttributeValue) { m[attrPendingOwner] = &types.AttributeValueMemberL{} }},
		{"state a string", func(m map[string]types.AttributeValue) { m[attrState] = str("window") }},
		{"parents a number set", func(m map[string]types.AttributeValue) {
			m[attrParents] = &types.AttributeValueMemberNS{Value: []string{"1"}}
		}},
	}
	if _, err := decode(good()); err != nil {
		t.Fatalf("decode of a good item: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := good()
			tt.change(item)
			if l, err := decode(item); err == nil {
				t.Fatalf("decode = %+v, nil; want an error", l)
			}
		})
	}
}

func TestDecodeReadsKCLVariants(t *testing.T) {
	l, err := decode(map[string]types.AttributeValue{
		attrKey:      str("shard-1"),
		attrOwner:    &types.AttributeValueMemberNULL{Value: true},
		attrParents:  str("shard-0"), // a single parent, as old KCL versions wrote it
		attrCounter:  ddb.Num(0),
		"extraField": str("ignored"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner != "" || len(l.Parents) != 1 || l.Parents[0] != "shard-0" {
		t.Fatalf("decode = %+v; want no owner and parent shard-0", l)
	}
}

func TestUpdateExpressions(t *testing.T) {
	var u update
	u.condition("%s = %s", u.name(attrCounter), u.value(ddb.Num(4)))
	u.set(attrCounter, ddb.Num(5))
	u.setOrRemove(attrCheckpoint, "")
	u.remove(attrPendingOwner)
	if got, want := *u.conditionExpression(), "#leaseCounter = :v0"; got != want {
		t.Errorf("condition = %q; want %q", got, want)
	}
	if got, want := *u.updateExpression(), "SET #leaseCounter = :v1 REMOVE #checkpoint, #pendingOwner"; got != want {
		t.Errorf("update = %q; want %q", got, want)
	}
	if len(u.names) != 3 || len(u.values) != 2 {
		t.Errorf("names %v, values %v; want 3 names and 2 values, each used", u.names, u.values)
	}
}
