package dynamosink_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/sink/sinktest"
	"github.com/streamtop/streamtop/topk"
)

// Hash key ranges: the whole space and its halves.
const (
	keyMax      = "340282366920938463463374607431768211455"
	keyHalf     = "170141183460469231731687303715884105727"
	keyHalfNext = "170141183460469231731687303715884105728"
)

func progress(shard, lo, hi string, through time.Time, parents ...string) sink.Progress {
	return sink.Progress{Shard: shard, Parents: parents, HashKeyStart: lo, HashKeyEnd: hi,
		Bucket: time.Millisecond, Through: through, Host: "w-" + shard}
}

// newTable creates a counts table for t alone, deleted when t ends. Tests
// that write progress need one: progress is per table, and on the shared
// table it would judge (and fill with zero windows) other tests' groups.
func newTable(t testing.TB) (*awsddb.Client, string) {
	t.Helper()
	client := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "counts")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamosink.CreateTable(ctx, client, name); err != nil && !errors.Is(err, dynamosink.ErrNoTTL) {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &awsddb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("DeleteTable: %v", err)
		}
	})
	return client, name
}

func TestPartialsContract(t *testing.T) {
	sinktest.RunPartials(t, func(t *testing.T) sinktest.Sink {
		client, name := newTable(t)
		s, err := dynamosink.New(client, name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// A whole snapshot and two partials of one window end share its item, each
// in its own attributes.
func TestItemShapePartials(t *testing.T) {
	client, name := table(t)
	s := newSink(t, dynamosink.WithTTL(time.Hour))
	group := awstest.UniqueName(t, "/index.html")
	at := time.Date(2026, 11, 25, 20, 4, 5, 0, time.UTC) // date-proof: the item is read raw, never through Query's expiry
	err := s.Write(t.Context(), []sink.Snapshot{
		{Group: group, Time: at, Window: 10 * time.Second, Shard: "shardId-000000000001", Host: "w1", Floor: 3,
			Counts: []topk.Entry[string]{{Key: "http://www.amazon.com/?a=1&b=<2>", Count: 30}}},
		{Group: group, Time: at, Window: 10 * time.Second, Shard: "shard #2.x", Counts: []topk.Entry[string]{{Key: `b "quoted"`, Count: 2, Err: 1}}},
		{Group: group, Time: at, Window: 10 * time.Second, Host: "w0", Floor: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]types.AttributeValue{
		"resource":       &types.AttributeValueMemberS{Value: group},
		"timestamp":      &types.AttributeValueMemberS{Value: "2026-11-25T20:04:05.000Z"},
		"windowMs":       &types.AttributeValueMemberN{Value: "10000"},
		"expiresAt":      &types.AttributeValueMemberN{Value: fmt.Sprint(at.Add(time.Hour).Unix())},
		"referrerCounts": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"host":           &types.AttributeValueMemberS{Value: "w0"},
		"floor":          &types.AttributeValueMemberN{Value: "7"},
		"p#shardId-000000000001": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"counts": &types.AttributeValueMemberS{Value: `[{"k":"http://www.amazon.com/?a=1&b=<2>","c":30}]`},
			"floor":  &types.AttributeValueMemberN{Value: "3"},
			"host":   &types.AttributeValueMemberS{Value: "w1"},
		}},
		"p#shard #2.x": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"counts": &types.AttributeValueMemberS{Value: `[{"k":"b \"quoted\"","c":2,"e":1}]`},
			"floor":  &types.AttributeValueMemberN{Value: "0"},
		}},
	}
	if d := cmp.Diff(want, rawItem(t, client, name, group, "2026-11-25T20:04:05.000Z"), attrOpts); d != "" {
		t.Errorf("stored item (-want +got):\n%s", d)
	}
}

// Eight shards' processors write their partials of the same windows at the
// same time, each its own Write: none overwrites another.
func TestConcurrentShardWriters(t *testing.T) {
	s := newSink(t)
	group := awstest.UniqueName(t, "/index.html")
	base := time.Now().UTC().Truncate(time.Second)
	const shards, windows = 8, 20
	var wg sync.WaitGroup
	for sh := range shards {
		wg.Go(func() {
			batch := make([]sink.Snapshot, windows)
			for w := range batch {
				batch[w] = sink.Snapshot{Group: group, Time: base.Add(time.Duration(w) * time.Second), Window: time.Second,
					Shard: fmt.Sprint("shard-", sh), Host: fmt.Sprint("w", sh), Counts: []topk.Entry[string]{{Key: "x", Count: 1 << sh}}}
			}
			if err := s.Write(t.Context(), batch); err != nil {
				t.Errorf("Write of shard %d: %v", sh, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Query(t.Context(), group, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != windows {
		t.Fatalf("%d windows; want %d", len(got), windows)
	}
	for _, w := range got {
		if len(w.Counts) != 1 || w.Counts[0].Count != 1<<shards-1 || strings.Count(w.Host, ",") != shards-1 || w.Complete {
			t.Errorf("window at %v: %+v; want x counted 255 by all 8 shards, incomplete (no progress)", w.Time, w)
		}
	}
}

// conflictCounter counts the progress writes that lost a race.
type conflictCounter struct {
	*awsddb.Client
	conflicts atomic.Int64
}

func (c *conflictCounter) UpdateItem(ctx context.Context, in *awsddb.UpdateItemInput, opts ...func(*awsddb.Options)) (*awsddb.UpdateItemOutput, error) {
	out, err := c.Client.UpdateItem(ctx, in, opts...)
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		c.conflicts.Add(1)
	}
	return out, err
}

// Writers of one shard's progress racing each other (a failover) still
// leave the latest Through, and Ended set once any wrote it.
func TestConcurrentProgressWriters(t *testing.T) {
	client, name := newTable(t)
	cc := &conflictCounter{Client: client}
	s, err := dynamosink.New(cc, name, dynamosink.WithBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC) // date-proof: progress never expires, and is read raw
	const writers, each = 4, 10
	order := rand.Perm(writers * each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, n := range order[w*each : (w+1)*each] {
				p := progress("shard-0", "0", keyMax, base.Add(time.Duration(n+1)*time.Second))
				p.Ended = n == 7
				if err := s.WriteProgress(t.Context(), p); err != nil {
					t.Errorf("WriteProgress: %v", err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d progress writes lost a race and were read and written again", cc.conflicts.Load())
	got := rawItem(t, client, name, "streamtop#progress", "progress")["s#shard-0"]
	m, ok := got.(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("progress attribute %#v; want a map", got)
	}
	wantThrough := base.Add(writers * each * time.Second).Format("2006-01-02T15:04:05.000Z")
	if th, ok := m.Value["through"].(*types.AttributeValueMemberS); !ok || th.Value != wantThrough {
		t.Errorf("through = %#v; want %s", m.Value["through"], wantThrough)
	}
	if e, ok := m.Value["ended"].(*types.AttributeValueMemberBOOL); !ok || !e.Value {
		t.Errorf("ended = %#v; want true", m.Value["ended"])
	}
	if v, ok := m.Value["version"].(*types.AttributeValueMemberN); !ok || v.Value != fmt.Sprint(writers*each) {
		t.Errorf("version = %#v; want %d, one per write", m.Value["version"], writers*each)
	}
}

// The progress item is not a group: Write refuses its name, Groups does
// not list it, and Query finds nothing under it.
func TestProgressItemIsNoGroup(t *testing.T) {
	client, name := newTable(t)
	s, err := dynamosink.New(client, name)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := s.WriteProgress(t.Context(), progress("a", "0", keyMax, now)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), []sink.Snapshot{{Group: "g", Time: now}}); err != nil {
		t.Fatal(err)
	}
	err = s.Write(t.Context(), []sink.Snapshot{{Group: "streamtop#progress", Time: now}})
	if !errors.Is(err, sink.ErrInvalidSnapshot) {
		t.Errorf("Write to the progress item's group: err = %v; want ErrInvalidSnapshot", err)
	}
	groups, err := s.Groups(t.Context())
	if err != nil || !cmp.Equal(groups, []string{"g"}) {
		t.Errorf("Groups = %q, %v; want [g]", groups, err)
	}
	got, err := s.Query(t.Context(), "streamtop#progress", time.Time{})
	if err != nil || len(got) != 0 {
		t.Errorf("Query of the progress item's group = %+v, %v; want nothing", got, err)
	}
}

func TestWriteProgressRejects(t *testing.T) {
	s := newSink(t)
	now := time.Now()
	tests := []struct {
		name string
		p    sink.Progress
	}{
		{"no shard", sink.Progress{Through: now}},
		{"shard too long for an attribute name", sink.Progress{Shard: strings.Repeat("s", 254)}},
		{"shard not UTF-8", sink.Progress{Shard: "\xff"}},
		{"negative bucket", sink.Progress{Shard: "a", Bucket: -time.Second}},
		{"year 10000", sink.Progress{Shard: "a", Through: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, // date-proof: rejected before it is written
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.WriteProgress(t.Context(), tt.p); !errors.Is(err, sink.ErrInvalidSnapshot) {
				t.Fatalf("err = %v; want ErrInvalidSnapshot", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.WriteProgress(ctx, progress("a", "0", keyMax, now)); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteProgress with a canceled context: err = %v; want context.Canceled", err)
	}
}

// Corrupt progress fails a Query with an error that names the attribute,
// rather than judging windows on a guess.
func TestCorruptProgress(t *testing.T) {
	client, name := newTable(t)
	s, err := dynamosink.New(client, name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.PutItem(t.Context(), &awsddb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{
		"resource":  &types.AttributeValueMemberS{Value: "streamtop#progress"},
		"timestamp": &types.AttributeValueMemberS{Value: "progress"},
		"s#a":       &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"through": &types.AttributeValueMemberN{Value: "1"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(t.Context(), "g", time.Time{}); err == nil || !strings.Contains(err.Error(), `"s#a"`) {
		t.Errorf("Query over corrupt progress: err = %v; want one naming s#a", err)
	}
	if err := s.WriteProgress(t.Context(), progress("a", "0", keyMax, time.Now())); err == nil || !strings.Contains(err.Error(), `"s#a"`) {
		t.Errorf("WriteProgress over corrupt progress: err = %v; want one naming s#a", err)
	}
}

// The progress item forgets a shard that ended longer ago than the TTL when
// another shard ends, so it does not grow by a shard at every reshard; the
// others stay.
func TestProgressPrunesOldEndedShards(t *testing.T) {
	client, name := newTable(t)
	s, err := dynamosink.New(client, name, dynamosink.WithTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	a := progress("a", "0", keyMax, t0)
	a.Ended = true
	b := progress("b", "0", keyHalf, t0.Add(30*time.Minute), "a")
	b.Ended = true
	c := progress("c", keyHalfNext, keyMax, t0.Add(2*time.Hour), "a")
	d := progress("d", "0", keyHalf, t0.Add(2*time.Hour), "b")
	d.Ended = true
	for _, p := range []sink.Progress{a, b, c, d} {
		if err := s.WriteProgress(ctx, p); err != nil {
			t.Fatalf("WriteProgress(%s): %v", p.Shard, err)
		}
	}
	out, err := client.GetItem(ctx, &awsddb.GetItemInput{TableName: aws.String(name), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"resource":  &types.AttributeValueMemberS{Value: "streamtop#progress"},
			"timestamp": &types.AttributeValueMemberS{Value: "progress"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for attr := range out.Item {
		if shard, ok := strings.CutPrefix(attr, "s#"); ok {
			kept = append(kept, shard)
		}
	}
	slices.Sort(kept)
	// a and b ended 2 h and 1.5 h before d's end, more than the TTL.
	if d := cmp.Diff([]string{"c", "d"}, kept); d != "" {
		t.Errorf("shards in the progress item (-want +got):\n%s", d)
	}
}
