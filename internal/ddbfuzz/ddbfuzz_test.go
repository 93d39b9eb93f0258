package ddbfuzz

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

var opts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreUnexported(
		types.AttributeValueMemberS{}, types.AttributeValueMemberN{}, types.AttributeValueMemberB{},
		types.AttributeValueMemberBOOL{}, types.AttributeValueMemberNULL{}, types.AttributeValueMemberSS{},
		types.AttributeValueMemberNS{}, types.AttributeValueMemberBS{}, types.AttributeValueMemberL{},
		types.AttributeValueMemberM{},
	),
}

func TestEncodeDecodesBack(t *testing.T) {
	item := map[string]types.AttributeValue{
		"s":    &types.AttributeValueMemberS{Value: "text"},
		"n":    &types.AttributeValueMemberN{Value: "-12.5"},
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}},
		"bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"k": &types.AttributeValueMemberN{Value: "7"},
			}},
		}},
	}
	if d := cmp.Diff(item, Decode(Encode(item)), opts); d != "" {
		t.Fatalf("Decode(Encode(item)) (-want +got):\n%s", d)
	}
}

// Any bytes decode to an item that encodes to bytes decoding to it again:
// Encode is a faithful inverse on everything Decode makes.
func TestDecodeEncodeDecode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.SliceOf(rapid.Byte()).Draw(t, "data")
		item := Decode(data)
		if d := cmp.Diff(item, Decode(Encode(item)), opts); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

func TestDecodeBoundsNesting(t *testing.T) {
	// A name, then lists nested far deeper than maxDepth.
	data := []byte{1, 'x'}
	for range 100 {
		data = append(data, tagL, 1)
	}
	item := Decode(data)
	depth := 0
	for v := item["x"]; ; depth++ {
		l, ok := v.(*types.AttributeValueMemberL)
		if !ok || len(l.Value) == 0 {
			break
		}
		v = l.Value[0]
	}
	if depth > maxDepth {
		t.Fatalf("decoded %d levels of nesting; want at most %d", depth, maxDepth)
	}
}
