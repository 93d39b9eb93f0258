package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/checkpointtest"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/ddb/ddbtest"
)

// Each rapid step here is a few round trips to dynalite: 50 checks keep the
// package's run short.
func TestMain(m *testing.M) { ddbtest.Main(m, 50) }

// sharedTable is one lease table for the tests that tolerate company (the
// contract suite keys every lease by its subtest).
var sharedTable ddbtest.SharedTable

func table(t testing.TB) (*awsddb.Client, string) {
	t.Helper()
	return sharedTable.Get(t, "leases", func(ctx context.Context, client *awsddb.Client, name string) error {
		return dynamostore.CreateTable(ctx, client, name)
	})
}

// newTable creates a lease table for t alone, for tests that List.
func newTable(t testing.TB) (*awsddb.Client, string) {
	t.Helper()
	client := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "leases")
	if err := dynamostore.CreateTable(context.Background(), client, name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return client, name
}

func newStore(t testing.TB, opts ...dynamostore.Option) *dynamostore.Store {
	t.Helper()
	client, name := table(t)
	return newStoreOn(t, client, name, opts...)
}

func newStoreOn(t testing.TB, client *awsddb.Client, name string, opts ...dynamostore.Option) *dynamostore.Store {
	t.Helper()
	s, err := dynamostore.New(client, name, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestStoreContract(t *testing.T) {
	checkpointtest.Run(t, func(t *testing.T) checkpoint.Store {
		return newStore(t, dynamostore.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
	},
		checkpointtest.WithMaxStateSize(dynamostore.MaxStateSize))
}

func TestNewValidates(t *testing.T) {
	client := awsddb.New(awsddb.Options{Region: "us-east-1"})
	tests := []struct {
		name   string
		client *awsddb.Client
		table  string
		opts   []dynamostore.Option
	}{
		{"nil client", nil, "leases", nil},
		{"short table name", client, "ab", nil},
		{"long table name", client, strings.Repeat("t", 256), nil},
		{"bad character", client, "my leases", nil},
		{"zero attempts", client, "leases", []dynamostore.Option{dynamostore.WithMaxAttempts(0)}},
		{"zero base", client, "leases", []dynamostore.Option{dynamostore.WithBackoff(0, time.Second)}},
		{"max below base", client, "leases", []dynamostore.Option{dynamostore.WithBackoff(time.Second, time.Millisecond)}},
		{"nil option", client, "leases", []dynamostore.Option{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *dynamostore.Store
			var err error
			if tt.client == nil {
				s, err = dynamostore.New(nil, tt.table, tt.opts...)
			} else {
				s, err = dynamostore.New(tt.client, tt.table, tt.opts...)
			}
			if !errors.Is(err, dynamostore.ErrInvalidOption) || s != nil {
				t.Fatalf("New = %v, %v; want nil, ErrInvalidOption", s, err)
			}
		})
	}
	for _, name := range []string{"abc", strings.Repeat("t", 255), "KCL.leases_v2-prod"} {
		if _, err := dynamostore.New(client, name); err != nil {
			t.Errorf("New(%q): %v", name, err)
		}
	}
}

func TestCreateTable(t *testing.T) {
	ctx := t.Context()
	client := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "leases")

	// Workers starting together all create the table; all must succeed.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = dynamostore.CreateTable(ctx, client, name) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateTable #%d: %v", i, err)
		}
	}
	out, err := client.DescribeTable(ctx, &awsddb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Table.TableStatus != types.TableStatusActive {
		t.Errorf("status %s after CreateTable; want ACTIVE", out.Table.TableStatus)
	}
	if bm := out.Table.BillingModeSummary; bm == nil || bm.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %+v; want PAY_PER_REQUEST", bm)
	}

	t.Run("not a lease table", func(t *testing.T) {
		other := awstest.UniqueName(t, "other")
		_, err := client.CreateTable(ctx, &awsddb.CreateTableInput{
			TableName:            aws.String(other),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := dynamostore.CreateTable(ctx, client, other); !errors.Is(err, dynamostore.ErrInvalidOption) {
			t.Fatalf("CreateTable over a table keyed on id: err = %v; want ErrInvalidOption", err)
		}
	})
	t.Run("invalid arguments", func(t *testing.T) {
		if err := dynamostore.CreateTable(ctx, nil, name); !errors.Is(err, dynamostore.ErrInvalidOption) {
			t.Errorf("nil client: err = %v; want ErrInvalidOption", err)
		}
		if err := dynamostore.CreateTable(ctx, client, "x"); !errors.Is(err, dynamostore.ErrInvalidOption) {
			t.Errorf("short name: err = %v; want ErrInvalidOption", err)
		}
	})
	t.Run("deadline while creating", func(t *testing.T) {
		// dynalite keeps a new table CREATING for 500 ms.
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := dynamostore.CreateTable(ctx, client, awstest.UniqueName(t, "slow"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want DeadlineExceeded", err)
		}
	})
}

// item reads a lease's raw item, as a person with the AWS CLI would.
func item(t *testing.T, client *awsddb.Client, table, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &awsddb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// The table must read as a KCL lease table: names and types as the KCL
// writes them.
func TestItemsUseKCLAttributes(t *testing.T) {
	ctx := t.Context()
	// A table of its own: the lease key is a KCL-style shard ID, the same in
	// every run, and the counters checked below must start afresh (-count).
	client, name := newTable(t)
	s := newStoreOn(t, client, name)
	key := "shardId-000000000007"
	if _, err := s.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon, Parents: []string{"shardId-000000000002", "shardId-000000000001"}}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err = s.Take(ctx, l, "worker-1")
	if err != nil {
		t.Fatal(err)
	}
	l.Checkpoint, l.SubSequence = "49590338271490256608559692538361571095921575989136588898", 2
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	if l, err = s.RequestHandoff(ctx, l, "worker-2"); err != nil {
		t.Fatal(err)
	}

	want := map[string]types.AttributeValue{
		"leaseKey":                     &types.AttributeValueMemberS{Value: key},
		"leaseOwner":                   &types.AttributeValueMemberS{Value: "worker-1"},
		"leaseCounter":                 &types.AttributeValueMemberN{Value: "2"},
		"checkpoint":                   &types.AttributeValueMemberS{Value: "49590338271490256608559692538361571095921575989136588898"},
		"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "2"},
		"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "0"},
		"parentShardId":                &types.AttributeValueMemberSS{Value: []string{"shardId-000000000001", "shardId-000000000002"}},
		"pendingOwner":                 &types.AttributeValueMemberS{Value: "worker-2"},
	}
	if d := cmp.Diff(want, item(t, client, name, key), attrOpts); d != "" {
		t.Errorf("stored item (-want +got):\n%s", d)
	}

	if _, err := s.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	got := item(t, client, name, key)
	for _, attr := range []string{"leaseOwner", "pendingOwner"} {
		if v, ok := got[attr]; ok {
			t.Errorf("after Release the item has %s = %v; want it removed, as the KCL does", attr, v)
		}
	}
}

// attrOpts compares AttributeValues by content, with string sets as sets.
var attrOpts = cmp.Options{
	cmp.Exporter(func(reflect.Type) bool { return true }),
	cmp.Transformer("sortSS", func(ss *types.AttributeValueMemberSS) []string {
		return slices.Sorted(slices.Values(ss.Value))
	}),
}

// Attributes the Store does not know (another tool's, or a newer KCL's) must
// survive every write: no write replaces the whole item.
func TestWritesKeepForeignAttributes(t *testing.T) {
	ctx := t.Context()
	client, name := table(t)
	s := newStore(t)
	key := awstest.UniqueName(t, "shard")
	if _, err := s.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	_, err := client.UpdateItem(ctx, &awsddb.UpdateItemInput{
		TableName:                 aws.String(name),
		Key:                       map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:          aws.String("SET childShardIds = :c, throughputKBps = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberSS{Value: []string{"shardId-9"}}, ":t": &types.AttributeValueMemberN{Value: "12.5"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func(l checkpoint.Lease) (checkpoint.Lease, error)
	}{
		{"Take", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.Take(ctx, l, "w1") }},
		{"Renew", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.Renew(ctx, l) }},
		{"Checkpoint", func(l checkpoint.Lease) (checkpoint.Lease, error) { l.Checkpoint = "42"; return s.Checkpoint(ctx, l) }},
		{"RequestHandoff", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.RequestHandoff(ctx, l, "w2") }},
		{"Handoff", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.Handoff(ctx, l) }},
		{"Release", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.Release(ctx, l) }},
	}
	for _, step := range steps {
		if l, err = step.do(l); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got := item(t, client, name, key)
		if _, ok := got["childShardIds"]; !ok {
			t.Fatalf("%s removed childShardIds", step.name)
		}
		if _, ok := got["throughputKBps"]; !ok {
			t.Fatalf("%s removed throughputKBps", step.name)
		}
	}
}

// A lease written by the Java KCL reads as the same lease here, and its owner
// can be taken over.
func TestReadsKCLItem(t *testing.T) {
	ctx := t.Context()
	client, name := table(t)
	s := newStore(t)
	key := awstest.UniqueName(t, "shardId")
	_, err := client.PutItem(ctx, &awsddb.PutItemInput{
		TableName: aws.String(name),
		Item: map[string]types.AttributeValue{
			"leaseKey":                     &types.AttributeValueMemberS{Value: key},
			"leaseOwner":                   &types.AttributeValueMemberS{Value: "java-worker"},
			"leaseCounter":                 &types.AttributeValueMemberN{Value: "41"},
			"checkpoint":                   &types.AttributeValueMemberS{Value: "SHARD_END"},
			"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "0"},
			"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "3"},
			"parentShardId":                &types.AttributeValueMemberSS{Value: []string{"shardId-000000000000"}},
			"leaseOwnerHistory":            &types.AttributeValueMemberS{Value: "x"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := checkpoint.Lease{Key: key, Owner: "java-worker", Counter: 41, Checkpoint: checkpoint.ShardEnd,
		OwnerSwitchesSinceCheckpoint: 3, Parents: []string{"shardId-000000000000"}}
	l, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, l); d != "" {
		t.Fatalf("Get (-want +got):\n%s", d)
	}
	l, err = s.Take(ctx, l, "go-worker")
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner != "go-worker" || l.Counter != 42 || l.OwnerSwitchesSinceCheckpoint != 4 {
		t.Fatalf("after Take: %+v; want owner go-worker, counter 42, 4 switches", l)
	}
}

// A Take from a view whose owner is wrong but whose counter is current still
// succeeds, as the contract makes Take conditional on the counter alone, and
// counts the switch from the owner actually stored.
func TestTakeWithWrongOwnerInView(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	key := awstest.UniqueName(t, "shard")
	if _, err := s.Create(ctx, checkpoint.Lease{Key: key}); err != nil {
		t.Fatal(err)
	}
	l, _ := s.Get(ctx, key)
	l, err := s.Take(ctx, l, "w1")
	if err != nil {
		t.Fatal(err)
	}
	l.Checkpoint = "7"
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		viewOwner, taker string
		switches         int64
	}{
		{"someone-else", "w1", 0}, // w1 already owns it: not a switch
		{"", "w2", 1},
		{"w2", "w3", 2},
	} {
		view := l
		view.Owner = c.viewOwner
		got, err := s.Take(ctx, view, c.taker)
		if err != nil {
			t.Fatalf("Take by %s with view owner %q: %v", c.taker, c.viewOwner, err)
		}
		if got.Owner != c.taker || got.OwnerSwitchesSinceCheckpoint != c.switches || got.Counter != l.Counter+1 {
			t.Fatalf("Take by %s: %+v; want owner %s, %d switches, counter %d", c.taker, got, c.taker, c.switches, l.Counter+1)
		}
		l = got
	}
}

// TestStateTooLargeForItem fills a lease's other attributes past the
// reserve MaxStateSize leaves them: DynamoDB refuses the item, and the Store
// reports that as ErrStateTooLarge with nothing written, as it does a state
// over MaxStateSize.
func TestStateTooLargeForItem(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	key := awstest.UniqueName(t, "shard")
	if _, err := s.Create(ctx, checkpoint.Lease{Key: key}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if l, err = s.Take(ctx, l, strings.Repeat("w", 20<<10)); err != nil {
		t.Fatal(err)
	}
	l.Checkpoint, l.State = "1", make([]byte, dynamostore.MaxStateSize)
	_, err = s.Checkpoint(ctx, l)
	if !errors.Is(err, checkpoint.ErrStateTooLarge) {
		t.Fatalf("Checkpoint of a %d-byte state on a lease with a 20 KiB owner: err = %v; want ErrStateTooLarge", len(l.State), err)
	}
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counter != l.Counter || got.Checkpoint != "" || got.State != nil {
		t.Fatalf("after the refused checkpoint the lease is %+v; want it unchanged", got)
	}
}

func TestListPaginates(t *testing.T) {
	ctx := t.Context()
	client, name := newTable(t)
	scans := &scanCounter{Client: client}
	s, err := dynamostore.New(scans, name)
	if err != nil {
		t.Fatal(err)
	}
	// About 1.2 MB of leases: more than one Scan page.
	parents := make([]string, 0, 40)
	for i := range 40 {
		parents = append(parents, strings.Repeat("p", 250)+string(rune('A'+i%26))+string(rune('a'+i/26)))
	}
	const n = 120
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("shardId-%012d", i)
			if _, err := s.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon, Parents: parents}); err != nil {
				failed.Store(err)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	all, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("List returned %d leases; want %d", len(all), n)
	}
	if got := scans.calls.Load(); got < 2 {
		t.Errorf("List made %d Scan calls; the test needs a table of more than one page", got)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Key >= all[i].Key {
			t.Fatalf("List not in key order at %d: %q, %q", i, all[i-1].Key, all[i].Key)
		}
	}
	if len(all[0].Parents) != len(parents) {
		t.Errorf("lease has %d parents; want %d", len(all[0].Parents), len(parents))
	}
}

// scanCounter counts the Scan calls made through it.
type scanCounter struct {
	*awsddb.Client
	calls atomic.Int64
}

func (c *scanCounter) Scan(ctx context.Context, in *awsddb.ScanInput, opts ...func(*awsddb.Options)) (*awsddb.ScanOutput, error) {
	c.calls.Add(1)
	return c.Client.Scan(ctx, in, opts...)
}
