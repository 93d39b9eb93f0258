package dynamosink

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/ddb"
)

func TestDecodeRejectsMalformedItems(t *testing.T) {
	good := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			attrResource:  &types.AttributeValueMemberS{Value: "/index.html"},
			attrTimestamp: &types.AttributeValueMemberS{Value: "2026-11-25T20:04:05.678Z"},
			attrCounts: &types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					attrReferrer: &types.AttributeValueMemberS{Value: "r"},
					attrCount:    ddb.Num(1),
				}},
			}},
		}
	}
	entry := func(m map[string]types.AttributeValue) map[string]types.AttributeValue {
		return m[attrCounts].(*types.AttributeValueMemberL).Value[0].(*types.AttributeValueMemberM).Value
	}
	tests := []struct {
		name   string
		change func(map[string]types.AttributeValue)
	}{
		{"no resource", func(m map[string]types.AttributeValue) { delete(m, attrResource) }},
		{"no timestamp", func(m map[string]types.AttributeValue) { delete(m, attrTimestamp) }},
		{"timestamp not ISO-8601", func(m map[string]types.AttributeValue) {
			m[attrTimestamp] = &types.AttributeValueMemberS{Value: "1732565045678"}
		}},
		{"host a number", func(m map[string]types.AttributeValue) { m[attrHost] = ddb.Num(1) }},
		{"window not a number", func(m map[string]types.AttributeValue) { m[attrWindow] = &types.AttributeValueMemberN{Value: "ten"} }},
		{"expiry a string", func(m map[string]types.AttributeValue) { m[attrExpiresAt] = &types.AttributeValueMemberS{Value: "1"} }},
		{"counts a map", func(m map[string]types.AttributeValue) { m[attrCounts] = &types.AttributeValueMemberM{} }},
		{"count entry a string", func(m map[string]types.AttributeValue) {
			m[attrCounts] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "r"}}}
		}},
		{"entry without referrer", func(m map[string]types.AttributeValue) { delete(entry(m), attrReferrer) }},
		{"count a string", func(m map[string]types.AttributeValue) {
			entry(m)[attrCount] = &types.AttributeValueMemberS{Value: "1"}
		}},
		{"err overflows", func(m map[string]types.AttributeValue) {
			entry(m)[attrErr] = &types.AttributeValueMemberN{Value: "1e30"}
		}},
	}
	if _, _, err := decode(good()); err != nil {
		t.Fatalf("decode of a good item: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := good()
			tt.change(item)
			if s, _, err := decode(item); err == nil {
				t.Fatalf("decode = %+v, nil; want an error", s)
			}
		})
	}
}
