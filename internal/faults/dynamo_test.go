package faults

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"pgregory.net/rapid"
)

// recordingDynamoDB accepts every batch and remembers the keys it was sent;
// the other methods are not called by these tests.
type recordingDynamoDB struct {
	DynamoDBClient
	sent []string
	puts int
}

func (r *recordingDynamoDB) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, rs := range in.RequestItems {
		for _, w := range rs {
			r.sent = append(r.sent, w.PutRequest.Item["k"].(*types.AttributeValueMemberS).Value)
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func (r *recordingDynamoDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.puts++
	return &dynamodb.UpdateItemOutput{}, nil
}

func batchOf(keys []string) *dynamodb.BatchWriteItemInput {
	rs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		rs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: k}}}}
	}
	return &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"t": rs}}
}

// A partial BatchWriteItem sends some requests and hands back the others:
// together exactly the batch, at least one held back.
func TestDynamoDBPartialBatch(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z]{1,4}`), 1, 25, rapid.ID).Draw(t, "keys")
		rec := &recordingDynamoDB{}
		d := NewDynamoDB(rec, NewSchedule(rapid.Uint64().Draw(t, "seed"), Rate("dynamodb.BatchWriteItem partial", 1)))
		out, err := d.BatchWriteItem(context.Background(), batchOf(keys))
		if err != nil {
			t.Fatal(err)
		}
		var held []string
		for _, w := range out.UnprocessedItems["t"] {
			held = append(held, w.PutRequest.Item["k"].(*types.AttributeValueMemberS).Value)
		}
		if len(held) == 0 {
			t.Fatalf("nothing held back")
		}
		all := slices.Concat(rec.sent, held)
		slices.Sort(all)
		want := slices.Sorted(slices.Values(keys))
		if !slices.Equal(all, want) {
			t.Fatalf("sent %q + held %q; want exactly %q", rec.sent, held, keys)
		}
	})
}

// Each injected error has the shape the stores test for, and a failed
// condition or an early fault applies nothing while an applied fault does.
func TestDynamoDBErrors(t *testing.T) {
	cond := &dynamodb.UpdateItemInput{ConditionExpression: aws.String("x = :x")}
	cases := []struct {
		name    string
		rates   []Option
		applied bool
		check   func(error) bool
	}{
		{"Throttled", []Option{Rate("dynamodb.UpdateItem", 1)}, false, func(err error) bool {
			var pte *types.ProvisionedThroughputExceededException
			return errors.As(err, &pte) || errors.Is(err, ErrTimeout) // the draw picks one of the two
		}},
		{"Condition", []Option{Rate("dynamodb.UpdateItem condition", 1)}, false, func(err error) bool {
			var ccf *types.ConditionalCheckFailedException
			return errors.As(err, &ccf)
		}},
		{"Applied", []Option{Rate("dynamodb.UpdateItem applied", 1)}, true, func(err error) bool {
			return errors.Is(err, ErrTimeout) && errors.Is(err, context.DeadlineExceeded)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recordingDynamoDB{}
			d := NewDynamoDB(rec, NewSchedule(1, c.rates...))
			_, err := d.UpdateItem(context.Background(), cond)
			if err == nil || !c.check(err) {
				t.Fatalf("err = %v; not the injected kind", err)
			}
			if (rec.puts == 1) != c.applied {
				t.Fatalf("applied %d times; want applied=%v", rec.puts, c.applied)
			}
		})
	}
}

// The same seed injects the same faults into the same calls.
func TestDynamoDBSeeded(t *testing.T) {
	run := func() map[string]int64 {
		d := NewDynamoDB(&recordingDynamoDB{}, NewSchedule(42, Rate("*", 0.3)))
		for range 100 {
			d.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{ConditionExpression: aws.String("x")})
			d.BatchWriteItem(context.Background(), batchOf([]string{"a", "b", "c"}))
		}
		return d.Injected()
	}
	a, b := run(), run()
	if len(a) < 4 {
		t.Fatalf("only %v injected", a)
	}
	for k, n := range a {
		if b[k] != n {
			t.Fatalf("seeded runs differ: %v vs %v", a, b)
		}
	}
}
