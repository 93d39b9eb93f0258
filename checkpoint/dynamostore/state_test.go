package dynamostore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/checkpointtest"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
)

// stateTable creates a state table for t alone.
func stateTable(t testing.TB, client *awsddb.Client) string {
	t.Helper()
	name := awstest.UniqueName(t, "state")
	if err := dynamostore.CreateStateTable(context.Background(), client, name); err != nil {
		t.Fatalf("CreateStateTable: %v", err)
	}
	return name
}

// The contract suite on a Store with a state table: states up to
// MaxTableStateSize kept whole across every write, one byte more refused.
func TestStoreContractStateTable(t *testing.T) {
	client, leases := table(t)
	state := stateTable(t, client)
	checkpointtest.Run(t, func(t *testing.T) checkpoint.Store {
		return newStoreOn(t, client, leases, dynamostore.WithStateTable(state))
	},
		checkpointtest.WithMaxStateSize(dynamostore.MaxTableStateSize))
}

// stateItems counts a state table's headers and parts for key.
func stateItems(t *testing.T, client *awsddb.Client, table, key string) (headers, parts int) {
	t.Helper()
	var start map[string]types.AttributeValue
	for {
		out, err := client.Query(t.Context(), &awsddb.QueryInput{
			TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("leaseKey = :k"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: key}},
			ProjectionExpression:      aws.String("part"),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			if strings.HasPrefix(it["part"].(*types.AttributeValueMemberS).Value, "h#") {
				headers++
			} else {
				parts++
			}
		}
		if start = out.LastEvaluatedKey; len(start) == 0 {
			return headers, parts
		}
	}
}

// leaseItemSize is the lease item's size as DynamoDB bills it, roughly: its
// attribute names and values.
func leaseItemSize(t *testing.T, client *awsddb.Client, table, key string) int {
	t.Helper()
	out, err := client.GetItem(t.Context(), &awsddb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: key}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, v := range out.Item {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberB:
			n += len(v.Value)
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		default:
			n += 21
		}
	}
	return n
}

// With a state table, a 4 MiB state leaves the lease item under a kilobyte,
// so a renewal neither moves nor bills it; a replaced state is deleted.
func TestStateTableKeepsLeaseItemSmall(t *testing.T) {
	client, leases := newTable(t)
	state := stateTable(t, client)
	s := newStoreOn(t, client, leases, dynamostore.WithStateTable(state))
	ctx := t.Context()
	if _, err := s.Create(ctx, checkpoint.Lease{Key: "shard-0", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Get(ctx, "shard-0")
	if err != nil {
		t.Fatal(err)
	}
	if l, err = s.Take(ctx, l, "w1"); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	for i, at := range []string{"100", "200"} {
		big[0] = byte(i)
		l.Checkpoint, l.State = at, big
		if l, err = s.Checkpoint(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if l, err = s.Renew(ctx, l); err != nil || !bytes.Equal(l.State, big) {
		t.Fatalf("Renew: %d bytes of state, err %v; want the 4 MiB", len(l.State), err)
	}
	size := leaseItemSize(t, client, leases, "shard-0")
	headers, parts := stateItems(t, client, state, "shard-0")
	t.Logf("lease item %d bytes; state table: %d header, %d parts", size, headers, parts)
	if size > 1024 {
		t.Errorf("lease item of %d bytes with a 4 MiB state in the state table; want under 1 KiB", size)
	}
	if headers != 1 || parts != 12 {
		t.Errorf("state table holds %d headers and %d parts; want the one generation of 12 parts (4 MiB / 350 KiB)", headers, parts)
	}
	// A small state moves back into the item, and the table empties.
	l.Checkpoint, l.State = "300", []byte("small")
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	if h, p := stateItems(t, client, state, "shard-0"); h+p != 0 {
		t.Errorf("after a small state: %d headers, %d parts left", h, p)
	}
	if err := s.Delete(ctx, l); err != nil {
		t.Fatal(err)
	}
}

// failingUpdates fails the lease table's UpdateItem (the checkpoint) after
// the state was written, as a crash between the two would leave it; and,
// with failParts, the BatchWriteItem of a generation's parts after the
// first batch, as a crash in the middle of writing them.
type failingUpdates struct {
	*awsddb.Client
	failUpdate atomic.Bool
	failParts  atomic.Int32 // batches to let through before failing; -1 never
}

var errCrash = errors.New("crash")

func (c *failingUpdates) UpdateItem(ctx context.Context, in *awsddb.UpdateItemInput, opts ...func(*awsddb.Options)) (*awsddb.UpdateItemOutput, error) {
	if c.failUpdate.Load() {
		return nil, errCrash
	}
	return c.Client.UpdateItem(ctx, in, opts...)
}

func (c *failingUpdates) BatchWriteItem(ctx context.Context, in *awsddb.BatchWriteItemInput, opts ...func(*awsddb.Options)) (*awsddb.BatchWriteItemOutput, error) {
	if n := c.failParts.Load(); n >= 0 {
		if n == 0 {
			return nil, errCrash
		}
		c.failParts.Add(-1)
	}
	return c.Client.BatchWriteItem(ctx, in, opts...)
}

// A crash at any point of a checkpoint leaves the old state or the new one,
// never a mix, and the garbage it leaves is collected by the next
// checkpoint.
func TestStateTableCrashMidCheckpoint(t *testing.T) {
	client, leases := newTable(t)
	state := stateTable(t, client)
	fc := &failingUpdates{Client: client}
	fc.failParts.Store(-1)
	s, err := dynamostore.New(fc, leases, dynamostore.WithStateTable(state))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.Create(ctx, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, _ := s.Get(ctx, "k")
	if l, err = s.Take(ctx, l, "w1"); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte{1}, 2<<20)
	l.Checkpoint, l.State = "100", old
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	// A checkpoint refused after the state was written deletes what it
	// wrote; a crash cannot, and leaves garbage.
	for i, crash := range []string{"refused", "crash before the lease item", "crash among the parts"} {
		next := l
		next.Checkpoint, next.State = "200", bytes.Repeat([]byte{2}, 12<<20)
		switch crash {
		case "refused":
			fc.failUpdate.Store(true)
		case "crash before the lease item":
			fc.failUpdate.Store(true)
			fc.failParts.Store(3) // the header and 36 parts in 2 batches; no deletion after
		default:
			fc.failParts.Store(2) // the header and the first batch of parts
		}
		if _, err := s.Checkpoint(ctx, next); !errors.Is(err, errCrash) {
			t.Fatalf("%s: Checkpoint = %v, want the crash", crash, err)
		}
		fc.failUpdate.Store(false)
		fc.failParts.Store(-1)
		got, err := s.Get(ctx, "k")
		if err != nil || got.Checkpoint != "100" || !bytes.Equal(got.State, old) {
			t.Fatalf("%s: Get = checkpoint %q, %d bytes of state, err %v; want the old checkpoint and state whole", crash, got.Checkpoint, len(got.State), err)
		}
		if h, _ := stateItems(t, client, state, "k"); h != 1+i {
			t.Fatalf("%s: %d generations in the state table; want %d: the old one and the crashes' garbage", crash, h, 1+i)
		}
	}
	// The next checkpoint collects the garbage of both crashes.
	newer := bytes.Repeat([]byte{3}, 1<<20)
	l.Checkpoint, l.State = "300", newer
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	h, p := stateItems(t, client, state, "k")
	if h != 1 || p != 3 {
		t.Errorf("after the next checkpoint: %d headers and %d parts; want one generation of 3 parts", h, p)
	}
	if got, err := s.Get(ctx, "k"); err != nil || !bytes.Equal(got.State, newer) {
		t.Fatalf("Get after the next checkpoint: %d bytes, err %v", len(got.State), err)
	}
}

// BenchmarkRestoreState16MiB is issue 15's restore target: a new owner's
// Get of a lease whose state is MaxTableStateSize, from dynalite (target:
// under 2 s).
func BenchmarkRestoreState16MiB(b *testing.B) {
	client, leases := newTable(b)
	state := stateTable(b, client)
	s := newStoreOn(b, client, leases, dynamostore.WithStateTable(state))
	ctx := context.Background()
	if _, err := s.Create(ctx, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		b.Fatal(err)
	}
	l, _ := s.Get(ctx, "k")
	l, err := s.Take(ctx, l, "w1")
	if err != nil {
		b.Fatal(err)
	}
	l.Checkpoint, l.State = "1", bytes.Repeat([]byte("state"), dynamostore.MaxTableStateSize/5)
	if _, err := s.Checkpoint(ctx, l); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(l.State)))
	for b.Loop() {
		got, err := s.Get(ctx, "k")
		if err != nil || len(got.State) != len(l.State) {
			b.Fatalf("Get: %d bytes, err %v", len(got.State), err)
		}
	}
}
