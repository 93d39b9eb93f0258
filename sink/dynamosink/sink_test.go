package dynamosink_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/ddb/ddbtest"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/sink/sinktest"
	"github.com/streamtop/streamtop/topk"
)

// Each rapid step here is a round trip to dynalite: 50 checks keep the
// package's run short.
func TestMain(m *testing.M) { ddbtest.Main(m, 50) }

// sharedTable is one counts table for the tests that tolerate company (the
// contract suite names every group after its subtest).
var sharedTable ddbtest.SharedTable

func table(t testing.TB) (*awsddb.Client, string) {
	t.Helper()
	return sharedTable.Get(t, "counts", func(ctx context.Context, client *awsddb.Client, name string) error {
		err := dynamosink.CreateTable(ctx, client, name)
		if errors.Is(err, dynamosink.ErrNoTTL) {
			return nil // dynalite: see EMULATORS.md
		}
		return err
	})
}

// clockAt pins the clock a Sink judges expiry on to at. A test that stamps
// snapshots at a fixed date gives the Sink this clock too: on the wall clock,
// its snapshots would expire a TTL after the day the test was written.
func clockAt(at time.Time) dynamosink.Option {
	return dynamosink.WithClock(func() time.Time { return at })
}

func newSink(t testing.TB, opts ...dynamosink.Option) *dynamosink.Sink {
	t.Helper()
	client, name := table(t)
	s, err := dynamosink.New(client, name, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestSinkContract(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) (sink.Writer, sink.Reader) {
		s := newSink(t)
		return s, s
	})
}

func TestNewValidates(t *testing.T) {
	client := awsddb.New(awsddb.Options{Region: "us-east-1"})
	tests := []struct {
		name  string
		table string
		opts  []dynamosink.Option
	}{
		{"short table name", "ab", nil},
		{"long table name", strings.Repeat("t", 256), nil},
		{"bad character", "counts/prod", nil},
		{"zero TTL", "counts", []dynamosink.Option{dynamosink.WithTTL(0)}},
		{"negative TTL", "counts", []dynamosink.Option{dynamosink.WithTTL(-time.Hour)}},
		{"nil clock", "counts", []dynamosink.Option{dynamosink.WithClock(nil)}},
		{"zero backoff", "counts", []dynamosink.Option{dynamosink.WithBackoff(0, time.Second)}},
		{"max below base", "counts", []dynamosink.Option{dynamosink.WithBackoff(time.Second, time.Millisecond)}},
		{"nil option", "counts", []dynamosink.Option{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := dynamosink.New(client, tt.table, tt.opts...)
			if !errors.Is(err, dynamosink.ErrInvalidOption) || !errors.Is(err, sink.ErrInvalidOption) || s != nil {
				t.Fatalf("New = %v, %v; want nil and an error wrapping ErrInvalidOption", s, err)
			}
		})
	}
	if s, err := dynamosink.New(nil, "counts"); !errors.Is(err, dynamosink.ErrInvalidOption) || s != nil {
		t.Errorf("New(nil client) = %v, %v; want ErrInvalidOption", s, err)
	}
	if _, err := dynamosink.New(client, "counts", dynamosink.WithTTL(time.Minute), dynamosink.WithBackoff(time.Millisecond, time.Millisecond)); err != nil {
		t.Errorf("New with good options: %v", err)
	}
}

func TestCreateTable(t *testing.T) {
	ctx := t.Context()
	client := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "counts")

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = dynamosink.CreateTable(ctx, client, name) })
	}
	wg.Wait()
	for i, err := range errs {
		// dynalite has no UpdateTimeToLive: the table is ready, TTL is off.
		if !errors.Is(err, dynamosink.ErrNoTTL) {
			t.Fatalf("CreateTable #%d on dynalite: err = %v; want ErrNoTTL", i, err)
		}
	}
	out, err := client.DescribeTable(ctx, &awsddb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Table.TableStatus != types.TableStatusActive {
		t.Errorf("status %s; want ACTIVE", out.Table.TableStatus)
	}
	if bm := out.Table.BillingModeSummary; bm == nil || bm.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %+v; want PAY_PER_REQUEST", bm)
	}

	t.Run("not a counts table", func(t *testing.T) {
		other := awstest.UniqueName(t, "other")
		_, err := client.CreateTable(ctx, &awsddb.CreateTableInput{
			TableName:            aws.String(other),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("resource"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("resource"), KeyType: types.KeyTypeHash}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := dynamosink.CreateTable(ctx, client, other); !errors.Is(err, dynamosink.ErrInvalidOption) {
			t.Fatalf("CreateTable over a table without a range key: err = %v; want ErrInvalidOption", err)
		}
	})
	t.Run("invalid arguments", func(t *testing.T) {
		if err := dynamosink.CreateTable(ctx, nil, name); !errors.Is(err, dynamosink.ErrInvalidOption) {
			t.Errorf("nil client: err = %v; want ErrInvalidOption", err)
		}
		if err := dynamosink.CreateTable(ctx, client, "c"); !errors.Is(err, dynamosink.ErrInvalidOption) {
			t.Errorf("short name: err = %v; want ErrInvalidOption", err)
		}
	})
	t.Run("deadline while creating", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := dynamosink.CreateTable(ctx, client, awstest.UniqueName(t, "slow")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want DeadlineExceeded", err)
		}
	})
}

// ttlClient answers the TTL calls as AWS would, and the rest from dynalite.
type ttlClient struct {
	*awsddb.Client
	status    types.TimeToLiveStatus
	attribute string
	updateErr error
	updated   []string // attribute names UpdateTimeToLive enabled
}

func (c *ttlClient) DescribeTimeToLive(ctx context.Context, in *awsddb.DescribeTimeToLiveInput, _ ...func(*awsddb.Options)) (*awsddb.DescribeTimeToLiveOutput, error) {
	return &awsddb.DescribeTimeToLiveOutput{TimeToLiveDescription: &types.TimeToLiveDescription{
		TimeToLiveStatus: c.status, AttributeName: aws.String(c.attribute)}}, nil
}

func (c *ttlClient) UpdateTimeToLive(ctx context.Context, in *awsddb.UpdateTimeToLiveInput, _ ...func(*awsddb.Options)) (*awsddb.UpdateTimeToLiveOutput, error) {
	if c.updateErr != nil {
		return nil, c.updateErr
	}
	if aws.ToBool(in.TimeToLiveSpecification.Enabled) {
		c.updated = append(c.updated, aws.ToString(in.TimeToLiveSpecification.AttributeName))
	}
	return &awsddb.UpdateTimeToLiveOutput{}, nil
}

func TestCreateTableTTL(t *testing.T) {
	client, name := table(t)
	tests := []struct {
		name        string
		status      types.TimeToLiveStatus
		attribute   string
		updateErr   error
		wantUpdated []string
		wantNoTTL   bool
		wantErr     bool
	}{
		{name: "disabled", status: types.TimeToLiveStatusDisabled, wantUpdated: []string{"expiresAt"}},
		{name: "already on", status: types.TimeToLiveStatusEnabled, attribute: "expiresAt"},
		{name: "turning on", status: types.TimeToLiveStatusEnabling, attribute: "expiresAt"},
		{name: "on for another attribute", status: types.TimeToLiveStatusEnabled, attribute: "ttl", wantNoTTL: true, wantErr: true},
		{name: "emulator without TTL", status: types.TimeToLiveStatusDisabled,
			updateErr: &smithy.GenericAPIError{Code: "UnknownOperationException"}, wantNoTTL: true, wantErr: true},
		{name: "other failure", status: types.TimeToLiveStatusDisabled,
			updateErr: &smithy.GenericAPIError{Code: "AccessDeniedException"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &ttlClient{Client: client, status: tt.status, attribute: tt.attribute, updateErr: tt.updateErr}
			err := dynamosink.CreateTable(t.Context(), c, name)
			if (err != nil) != tt.wantErr || errors.Is(err, dynamosink.ErrNoTTL) != tt.wantNoTTL {
				t.Fatalf("err = %v; want error %v, ErrNoTTL %v", err, tt.wantErr, tt.wantNoTTL)
			}
			if d := cmp.Diff(tt.wantUpdated, c.updated); d != "" {
				t.Errorf("UpdateTimeToLive calls (-want +got):\n%s", d)
			}
		})
	}
}

// rawItem reads one item as a person with the AWS CLI would.
func rawItem(t *testing.T, client *awsddb.Client, table, group, ts string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &awsddb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"resource":  &types.AttributeValueMemberS{Value: group},
			"timestamp": &types.AttributeValueMemberS{Value: ts},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

var attrOpts = cmp.Exporter(func(reflect.Type) bool { return true })

func TestItemShape(t *testing.T) {
	client, name := table(t)
	s := newSink(t, dynamosink.WithTTL(time.Hour))
	group := awstest.UniqueName(t, "/index.html")
	at := time.Date(2026, 11, 25, 21, 4, 5, 678_900_000, time.FixedZone("CET", 3600)) // date-proof: the item is read raw, never through Query's expiry
	err := s.Write(t.Context(), []sink.Snapshot{{
		Group: group, Time: at, Window: 10 * time.Second, Host: "ip-10-0-0-1",
		Counts: []topk.Entry[string]{{Key: "http://www.amazon.com", Count: 30}, {Key: "http://www.bing.com", Count: 12, Err: 4}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]types.AttributeValue{
		"resource":  &types.AttributeValueMemberS{Value: group},
		"timestamp": &types.AttributeValueMemberS{Value: "2026-11-25T20:04:05.678Z"},
		"host":      &types.AttributeValueMemberS{Value: "ip-10-0-0-1"},
		"windowMs":  &types.AttributeValueMemberN{Value: "10000"},
		"expiresAt": &types.AttributeValueMemberN{Value: fmt.Sprint(at.Add(time.Hour).Unix())},
		"referrerCounts": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"referrer": &types.AttributeValueMemberS{Value: "http://www.amazon.com"},
				"count":    &types.AttributeValueMemberN{Value: "30"},
			}},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"referrer": &types.AttributeValueMemberS{Value: "http://www.bing.com"},
				"count":    &types.AttributeValueMemberN{Value: "12"},
				"err":      &types.AttributeValueMemberN{Value: "4"},
			}},
		}},
	}
	if d := cmp.Diff(want, rawItem(t, client, name, group, "2026-11-25T20:04:05.678Z"), attrOpts); d != "" {
		t.Errorf("stored item (-want +got):\n%s", d)
	}
}

// updateClient passes requests to dynalite after failing the first
// throttle UpdateItem calls, as a busy table does, and records how many
// calls were in flight at once.
type updateClient struct {
	*awsddb.Client
	throttle          atomic.Int64
	calls             atomic.Int64
	inFlight, maxSeen atomic.Int64
	always            bool // throttle every call
}

func (c *updateClient) UpdateItem(ctx context.Context, in *awsddb.UpdateItemInput, opts ...func(*awsddb.Options)) (*awsddb.UpdateItemOutput, error) {
	c.calls.Add(1)
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for seen := c.maxSeen.Load(); n > seen && !c.maxSeen.CompareAndSwap(seen, n); seen = c.maxSeen.Load() {
	}
	if c.always || c.throttle.Add(-1) >= 0 {
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	}
	time.Sleep(time.Millisecond) // long enough for the others to be in flight too
	return c.Client.UpdateItem(ctx, in, opts...)
}

func snapshots(group string, base time.Time, n int) []sink.Snapshot {
	ss := make([]sink.Snapshot, n)
	for i := range ss {
		ss[i] = sink.Snapshot{Group: group, Time: base.Add(time.Duration(i) * time.Second), Window: 10 * time.Second,
			Counts: []topk.Entry[string]{{Key: "ref", Count: int64(i + 1)}}, Host: "h"}
	}
	return ss
}

// complete is ss as a Reader returns whole snapshots: Complete.
func complete(ss []sink.Snapshot) []sink.Snapshot {
	out := slices.Clone(ss)
	for i := range out {
		out[i].Complete = true
	}
	return out
}

var snapOpts = cmpopts.EquateEmpty()

func TestWriteRetriesThrottled(t *testing.T) {
	client, name := table(t)
	uc := &updateClient{Client: client}
	uc.throttle.Store(5)
	s, err := dynamosink.New(uc, name, dynamosink.WithBackoff(time.Microsecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	group := awstest.UniqueName(t, "g")
	want := snapshots(group, time.Now().UTC().Truncate(time.Second), 60)
	if err := s.Write(t.Context(), want); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := s.Query(t.Context(), group, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(complete(want), got, snapOpts); d != "" {
		t.Fatalf("stored (-want +got):\n%s", d)
	}
	if n := uc.calls.Load(); n != 65 {
		t.Errorf("%d UpdateItem calls; want 60 and 5 throttled", n)
	}
	if n := uc.maxSeen.Load(); n > 8 || n < 2 {
		t.Errorf("%d UpdateItem calls in flight at most; want up to 8 at once", n)
	}
}

func TestWriteGivesUpWhenContextEnds(t *testing.T) {
	client, name := table(t)
	uc := &updateClient{Client: client, always: true} // the table accepts nothing
	s, err := dynamosink.New(uc, name, dynamosink.WithBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = s.Write(ctx, snapshots(awstest.UniqueName(t, "g"), time.Now(), 3))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "3 snapshots not yet written") {
		t.Errorf("err = %v; want it to say how many were not written", err)
	}
	if uc.calls.Load() < 6 {
		t.Errorf("%d calls in 100 ms with backoff of at most 5 ms; want retries", uc.calls.Load())
	}
}

func TestWriteReportsOtherErrors(t *testing.T) {
	client, name := table(t)
	s, err := dynamosink.New(client, name+"-missing")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(t.Context(), snapshots("g", time.Now(), 1))
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("Write to a missing table: err = %v; want ResourceNotFoundException", err)
	}
	if _, err := s.Query(t.Context(), "g", time.Time{}); !errors.As(err, &notFound) {
		t.Fatalf("Query of a missing table: err = %v; want ResourceNotFoundException", err)
	}
	if _, err := s.Groups(t.Context()); !errors.As(err, &notFound) {
		t.Fatalf("Groups of a missing table: err = %v; want ResourceNotFoundException", err)
	}
}

func TestWriteRejectsUnstorableSnapshots(t *testing.T) {
	s := newSink(t)
	group := awstest.UniqueName(t, "g")
	good := snapshots(group, time.Now(), 1)[0]
	tests := []struct {
		name string
		bad  sink.Snapshot
	}{
		{"group too long for a hash key", sink.Snapshot{Group: strings.Repeat("g", 2049), Time: time.Now()}},
		{"year 10000", sink.Snapshot{Group: group, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, // date-proof: rejected before it is written
		{"year 0", sink.Snapshot{Group: group, Time: time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)}},       // date-proof: rejected before it is written
		{"the progress item's group", sink.Snapshot{Group: "streamtop#progress", Time: time.Now()}},
		{"shard too long for an attribute name", sink.Snapshot{Group: group, Time: time.Now(), Shard: strings.Repeat("s", 254)}},
		{"shard not UTF-8", sink.Snapshot{Group: group, Time: time.Now(), Shard: "\xff"}},
		{"negative window", sink.Snapshot{Group: group, Time: time.Now(), Window: -time.Second}},
		{"negative floor", sink.Snapshot{Group: group, Time: time.Now(), Shard: "a", Floor: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Write(t.Context(), []sink.Snapshot{good, tt.bad})
			if !errors.Is(err, sink.ErrInvalidSnapshot) {
				t.Fatalf("err = %v; want ErrInvalidSnapshot", err)
			}
			if got, _ := s.Query(t.Context(), group, time.Time{}); len(got) != 0 {
				t.Fatalf("a rejected batch stored %d snapshots", len(got))
			}
		})
	}
	t.Run("longest shard ID", func(t *testing.T) {
		p := good
		p.Shard = strings.Repeat("ü", 126) + "s" // 253 bytes
		if err := s.Write(t.Context(), []sink.Snapshot{p}); err != nil {
			t.Fatalf("Write of a partial of a 253-byte shard ID: %v", err)
		}
		if got, err := s.Query(t.Context(), group, time.Time{}); err != nil || len(got) != 1 || got[0].Host != "h" {
			t.Fatalf("Query = %+v, %v; want the partial", got, err)
		}
	})
}

// queryCounter counts the Query calls made through it.
type queryCounter struct {
	*awsddb.Client
	calls atomic.Int64
}

func (c *queryCounter) Query(ctx context.Context, in *awsddb.QueryInput, opts ...func(*awsddb.Options)) (*awsddb.QueryOutput, error) {
	c.calls.Add(1)
	return c.Client.Query(ctx, in, opts...)
}

func TestQueryPaginates(t *testing.T) {
	client, name := table(t)
	qc := &queryCounter{Client: client}
	s, err := dynamosink.New(qc, name)
	if err != nil {
		t.Fatal(err)
	}
	group := awstest.UniqueName(t, "big")
	// 60 snapshots of about 25 KB: more than one 1 MB Query page.
	counts := make([]topk.Entry[string], 200)
	for i := range counts {
		counts[i] = topk.Entry[string]{Key: fmt.Sprintf("http://referrer-%03d.example.com/%s", i, strings.Repeat("p", 80)), Count: int64(1000 - i)}
	}
	want := snapshots(group, time.Now().UTC().Truncate(time.Second), 60)
	for i := range want {
		want[i].Counts = counts
	}
	if err := s.Write(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(t.Context(), group, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(complete(want), got, snapOpts); d != "" {
		t.Fatalf("Query (-want +got):\n%s", d)
	}
	if qc.calls.Load() < 2 {
		t.Errorf("%d Query calls; the test needs more than one page", qc.calls.Load())
	}
}

func TestExpiredSnapshotsAreNotRead(t *testing.T) {
	client, name := table(t)
	base := time.Now().UTC().Truncate(time.Second)
	now := base
	clock := func() time.Time { return now }
	s, err := dynamosink.New(client, name, dynamosink.WithTTL(time.Minute), dynamosink.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	group := awstest.UniqueName(t, "g")
	ss := snapshots(group, base, 3) // at base, base+1s, base+2s; expiring a minute later
	if err := s.Write(t.Context(), ss); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		now    time.Time
		want   []sink.Snapshot
		listed bool
	}{
		{base, ss, true},
		{base.Add(time.Minute), ss[1:], true}, // expiry is exclusive
		{base.Add(time.Minute + 2*time.Second), nil, false},
	}
	for _, st := range steps {
		now = st.now
		got, err := s.Query(t.Context(), group, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(complete(st.want), got, snapOpts); d != "" {
			t.Errorf("Query at %v (-want +got):\n%s", st.now.Sub(base), d)
		}
		groups, err := s.Groups(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if listed := contains(groups, group); listed != st.listed {
			t.Errorf("Groups at %v lists the group: %v; want %v", st.now.Sub(base), listed, st.listed)
		}
	}
}

// An item another tool wrote without expiresAt never expires.
func TestItemsWithoutExpiryAreRead(t *testing.T) {
	client, name := table(t)
	group := awstest.UniqueName(t, "g")
	_, err := client.PutItem(t.Context(), &awsddb.PutItemInput{
		TableName: aws.String(name),
		Item: map[string]types.AttributeValue{
			"resource":  &types.AttributeValueMemberS{Value: group},
			"timestamp": &types.AttributeValueMemberS{Value: "2015-01-02T03:04:05.006Z"},
			"host":      &types.AttributeValueMemberS{Value: "sample"},
			"referrerCounts": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"referrer": &types.AttributeValueMemberS{Value: "http://www.google.com"},
					"count":    &types.AttributeValueMemberN{Value: "3"},
				}},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newSink(t)
	got, err := s.Query(t.Context(), group, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []sink.Snapshot{{Group: group, Time: time.Date(2015, 1, 2, 3, 4, 5, 6_000_000, time.UTC), Host: "sample", // date-proof: the legacy item has no expiresAt, so it never expires
		Counts: []topk.Entry[string]{{Key: "http://www.google.com", Count: 3}}}}
	if d := cmp.Diff(complete(want), got, snapOpts); d != "" {
		t.Fatalf("Query (-want +got):\n%s", d)
	}
	groups, err := s.Groups(t.Context())
	if err != nil || !contains(groups, group) {
		t.Fatalf("Groups = %v, %v; want it to list %q", len(groups), err, group)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
