package dynamostore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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
	"github.com/streamtop/streamtop/internal/chunk"
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

// CreateStateTable over an existing state table succeeds; over a lease
// table, the mistake of naming the wrong table, it fails with
// ErrInvalidOption and names the table.
func TestCreateStateTableChecksSchema(t *testing.T) {
	client, leases := table(t)
	state := stateTable(t, client)
	if err := dynamostore.CreateStateTable(t.Context(), client, state); err != nil {
		t.Fatalf("CreateStateTable over a state table: %v", err)
	}
	err := dynamostore.CreateStateTable(t.Context(), client, leases)
	if !errors.Is(err, dynamostore.ErrInvalidOption) || !strings.Contains(err.Error(), leases) {
		t.Fatalf("CreateStateTable over the lease table: err = %v; want ErrInvalidOption naming %s", err, leases)
	}
	if err := dynamostore.CreateTable(t.Context(), client, state); !errors.Is(err, dynamostore.ErrInvalidOption) {
		t.Fatalf("CreateTable over the state table: err = %v; want ErrInvalidOption", err)
	}
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

// stateItems counts a state table's headers and chunks for key.
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

// randomBytes returns n bytes that no chunk repeats.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// chunks is how many chunks the state table holds state in.
func chunks(state []byte) int { return len(chunk.Cut(state, nil)) }

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
	r := rand.New(rand.NewPCG(1, 1))
	var big []byte
	for _, at := range []string{"100", "200"} {
		big = randomBytes(r, 4<<20)
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
	t.Logf("lease item %d bytes; state table: %d header, %d chunks", size, headers, parts)
	if size > 1024 {
		t.Errorf("lease item of %d bytes with a 4 MiB state in the state table; want under 1 KiB", size)
	}
	if want := chunks(big); headers != 1 || parts != want {
		t.Errorf("state table holds %d headers and %d chunks; want the one generation of %d chunks", headers, parts, want)
	}
	// A small state moves back into the item, and the table empties.
	l.Checkpoint, l.State = "300", []byte("small")
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	if h, p := stateItems(t, client, state, "shard-0"); h+p != 0 {
		t.Errorf("after a small state: %d headers, %d chunks left", h, p)
	}
	if err := s.Delete(ctx, l); err != nil {
		t.Fatal(err)
	}
}

// failingUpdates fails the lease table's UpdateItem (the checkpoint) after
// the state was written, as a crash between the two would leave it; and,
// with failParts, the BatchWriteItem of a generation's chunks after some
// batches, as a crash in the middle of writing them.
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
// checkpoint. The new states share most of their chunks with the old one,
// as a sliding window's do, so a collection that deleted a shared chunk
// would break the state it keeps.
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
	r := rand.New(rand.NewPCG(2, 2))
	old := randomBytes(r, 2<<20)
	l.Checkpoint, l.State = "100", old
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	// A refused checkpoint deletes what it wrote; a crash cannot, and
	// leaves garbage.
	garbage := 0
	for _, crash := range []string{"refused", "crash before the lease item", "crash among the chunks"} {
		next := l
		next.Checkpoint, next.State = "200", append(slices.Clone(old[1<<20:]), randomBytes(r, 10<<20)...)
		want := errCrash
		switch crash {
		case "refused":
			next.Counter-- // a stale view
			want = checkpoint.ErrLeaseLost
		case "crash before the lease item":
			fc.failUpdate.Store(true)
			garbage++
		default:
			fc.failParts.Store(3) // the header and 2 of about 34 batches of chunks
			garbage++
		}
		if _, err := s.Checkpoint(ctx, next); !errors.Is(err, want) {
			t.Fatalf("%s: Checkpoint = %v, want %v", crash, err, want)
		}
		fc.failUpdate.Store(false)
		fc.failParts.Store(-1)
		got, err := s.Get(ctx, "k")
		if err != nil || got.Checkpoint != "100" || !bytes.Equal(got.State, old) {
			t.Fatalf("%s: Get = checkpoint %q, %d bytes of state, err %v; want the old checkpoint and state whole", crash, got.Checkpoint, len(got.State), err)
		}
		if h, _ := stateItems(t, client, state, "k"); h != 1+garbage {
			t.Fatalf("%s: %d generations in the state table; want %d: the old one and the crashes' garbage", crash, h, 1+garbage)
		}
	}
	// The next checkpoint collects the garbage of both crashes, and keeps
	// the chunks it shares with the old state.
	newer := append(slices.Clone(old[:1<<20]), randomBytes(r, 1<<20)...)
	l.Checkpoint, l.State = "300", newer
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	h, p := stateItems(t, client, state, "k")
	if want := chunks(newer); h != 1 || p != want {
		t.Errorf("after the next checkpoint: %d headers and %d chunks; want one generation of %d chunks", h, p, want)
	}
	if got, err := s.Get(ctx, "k"); err != nil || !bytes.Equal(got.State, newer) {
		t.Fatalf("Get after the next checkpoint: %d bytes, err %v", len(got.State), err)
	}
}

// slidingState is a window's state as the aggregate saves it, in shape: a
// header that changes at every checkpoint, then panes, oldest first, of
// which a checkpoint drops the oldest and adds a newest.
type slidingState struct {
	r     *rand.Rand
	panes [][]byte
	pane  int
}

func (w *slidingState) slide() []byte {
	if len(w.panes) > 0 {
		w.panes = w.panes[1:]
	}
	for len(w.panes) < 40 {
		w.panes = append(w.panes, randomBytes(w.r, w.pane))
	}
	state := randomBytes(w.r, 40) // cursor, position, counts
	for _, p := range w.panes {
		state = append(state, p...)
	}
	return state
}

// A checkpoint writes what changed since the state its lease names: for a
// sliding window, one pane and a few chunks at the edges, not the window;
// a new owner reads the whole state back and goes on writing little, and a
// stale owner that remembers an older generation is refused without
// harming the new owner's.
func TestStateTableWritesOnlyNewChunks(t *testing.T) {
	client, leases := newTable(t)
	state := stateTable(t, client)
	a := newStoreOn(t, client, leases, dynamostore.WithStateTable(state))
	b := newStoreOn(t, client, leases, dynamostore.WithStateTable(state))
	ctx := t.Context()
	if _, err := a.Create(ctx, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	la, _ := a.Get(ctx, "k")
	la, err := a.Take(ctx, la, "a")
	if err != nil {
		t.Fatal(err)
	}
	w := &slidingState{r: rand.New(rand.NewPCG(3, 3)), pane: 100 << 10}
	written := func(s *dynamostore.Store, l *checkpoint.Lease, at string) int64 {
		t.Helper()
		before := s.Stats().StateBytesWritten
		l.Checkpoint, l.State = at, w.slide()
		got, err := s.Checkpoint(ctx, *l)
		if err != nil {
			t.Fatalf("checkpoint %s: %v", at, err)
		}
		*l = got
		return s.Stats().StateBytesWritten - before
	}
	first := written(a, &la, "1")
	if first < int64(len(la.State)) {
		t.Fatalf("the first checkpoint wrote %d bytes of a %d-byte state", first, len(la.State))
	}
	limit := int64(2 * w.pane)
	for i := range 3 {
		if n := written(a, &la, fmt.Sprint(2+i)); n > limit {
			t.Errorf("checkpoint %d after a slide wrote %d bytes of a %d-byte state; want at most 2 panes (%d)", 2+i, n, len(la.State), limit)
		} else {
			t.Logf("checkpoint %d after a slide: %d bytes of a %d-byte state, pane %d", 2+i, n, len(la.State), w.pane)
		}
	}
	// Worker b takes the lease over: it reads the state whole, then
	// writes as little.
	lb, err := b.Get(ctx, "k")
	if err != nil || !bytes.Equal(lb.State, la.State) {
		t.Fatalf("b's Get: %d bytes, err %v; want a's last state", len(lb.State), err)
	}
	if lb, err = b.Take(ctx, lb, "b"); err != nil {
		t.Fatal(err)
	}
	if n := written(b, &lb, "10"); n > limit {
		t.Errorf("the new owner's first checkpoint wrote %d bytes; want at most %d", n, limit)
	}
	// a's view is stale: refused, and b's state stands whole.
	la.Checkpoint, la.State = "5", w.slide()
	if _, err := a.Checkpoint(ctx, la); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("the old owner's checkpoint: %v, want ErrLeaseLost", err)
	}
	got, err := b.Get(ctx, "k")
	if err != nil || got.Checkpoint != "10" || !bytes.Equal(got.State, lb.State) {
		t.Fatalf("after the old owner's attempt: checkpoint %q, %d bytes, err %v; want b's", got.Checkpoint, len(got.State), err)
	}
	if h, p := stateItems(t, client, state, "k"); h != 1 || p != chunks(lb.State) {
		t.Errorf("state table: %d headers, %d chunks; want 1 and %d", h, p, chunks(lb.State))
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
	// Random bytes: a repeated pattern would be stored as a few chunks.
	l.Checkpoint, l.State = "1", randomBytes(rand.New(rand.NewPCG(4, 4)), dynamostore.MaxTableStateSize)
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

// A generation in the layout before chunks (a header of parts, "p#<gen>#i"
// items) reads as no state, said, and the next checkpoint deletes it whole.
func TestStateTableOldLayoutCollected(t *testing.T) {
	client, leases := newTable(t)
	state := stateTable(t, client)
	s := newStoreOn(t, client, leases, dynamostore.WithStateTable(state))
	ctx := t.Context()
	if _, err := s.Create(ctx, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	const gen = "00112233445566778899aabbccddeeff"
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	put := func(table string, item map[string]types.AttributeValue) {
		t.Helper()
		if _, err := client.PutItem(ctx, &awsddb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	put(state, map[string]types.AttributeValue{"leaseKey": str("k"), "part": str("h#" + gen),
		"parts": &types.AttributeValueMemberN{Value: "2"}, "size": &types.AttributeValueMemberN{Value: "6"},
		"sha256": &types.AttributeValueMemberB{Value: make([]byte, 32)}})
	for i := range 2 {
		put(state, map[string]types.AttributeValue{"leaseKey": str("k"), "part": str(fmt.Sprintf("p#%s#%04d", gen, i)),
			"data": &types.AttributeValueMemberB{Value: []byte("abc")}})
	}
	if _, err := client.UpdateItem(ctx, &awsddb.UpdateItemInput{TableName: aws.String(leases),
		Key:                       map[string]types.AttributeValue{"leaseKey": str("k")},
		UpdateExpression:          aws.String("SET stateGeneration = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": str(gen)}}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Get(ctx, "k")
	if err != nil || l.State != nil {
		t.Fatalf("Get of a lease naming an old-layout state: %d bytes, err %v; want no state, no error", len(l.State), err)
	}
	if l, err = s.Take(ctx, l, "w1"); err != nil {
		t.Fatal(err)
	}
	next := randomBytes(rand.New(rand.NewPCG(5, 5)), 64<<10)
	l.Checkpoint, l.State = "1", next
	if _, err := s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	if h, p := stateItems(t, client, state, "k"); h != 1 || p != chunks(next) {
		t.Errorf("after a checkpoint: %d headers, %d other items; want 1 and the new state's %d chunks", h, p, chunks(next))
	}
}
