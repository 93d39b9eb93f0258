package memstream_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // date-proof: the streams under test run on fake clocks set from t0

func newStream(t *testing.T, shards int, opts ...memstream.Option) *memstream.Stream {
	t.Helper()
	s, err := memstream.New(shards, opts...)
	if err != nil {
		t.Fatalf("New(%d): %v", shards, err)
	}
	return s
}

func mustPut(t *testing.T, s *memstream.Stream, key, data string) (shardID, seq string) {
	t.Helper()
	shardID, seq, err := s.Put(context.Background(), key, []byte(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return shardID, seq
}

func mustOpen(t *testing.T, s *memstream.Stream, shardID string, from source.Position) *memstream.Reader {
	t.Helper()
	r, err := s.Open(context.Background(), shardID, from)
	if err != nil {
		t.Fatalf("Open(%s, %v): %v", shardID, from.Type, err)
	}
	return r.(*memstream.Reader)
}

// readAll reads until a Read returns nothing or End.
func readAll(t *testing.T, r source.ShardReader) (data []string, last source.ReadResult) {
	t.Helper()
	for {
		res, err := r.Read(context.Background(), 1000)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, rec := range res.Records {
			data = append(data, string(rec.Data))
		}
		if len(res.Records) == 0 || res.End {
			return data, res
		}
	}
}

func shardByID(t *testing.T, s *memstream.Stream) map[string]source.Shard {
	t.Helper()
	list, err := s.Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]source.Shard)
	for _, sh := range list {
		m[sh.ID] = sh
	}
	return m
}

// TestMaxRecords checks that a shard keeps only its newest records, by Put
// and by PutRecords (a batch larger than the bound keeps its tail), and that
// positions in what was trimmed behave as they do after retention.
func TestMaxRecords(t *testing.T) {
	ctx := context.Background()
	s := newStream(t, 1, memstream.WithMaxRecords(3))
	id, seqA := mustPut(t, s, "k", "a")
	early := mustOpen(t, s, id, source.Position{})
	mustPut(t, s, "k", "b")
	put := func(data ...string) {
		t.Helper()
		var entries []memstream.Entry
		for _, d := range data {
			entries = append(entries, memstream.Entry{PartitionKey: "k", Data: []byte(d)})
		}
		if _, err := s.PutRecords(ctx, entries); err != nil {
			t.Fatal(err)
		}
	}
	put("c", "d", "e")
	for _, c := range []struct {
		name string
		from source.Position
	}{
		{"TrimHorizon", source.Position{}},
		{"AtTrimmedSequence", source.Position{Type: source.AtSequence, SequenceNumber: seqA}},
		{"AfterTrimmedSequence", source.Position{Type: source.AfterSequence, SequenceNumber: seqA}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if data, _ := readAll(t, mustOpen(t, s, id, c.from)); !cmp.Equal(data, []string{"c", "d", "e"}) {
				t.Fatalf("read %q, want [c d e]: a and b are beyond 3 records", data)
			}
		})
	}
	if data, _ := readAll(t, early); !cmp.Equal(data, []string{"c", "d", "e"}) {
		t.Fatalf("early reader read %q, want [c d e]", data)
	}
	mustPut(t, s, "k", "f")
	put("g", "h", "i", "j", "k")
	if data := readRecords(t, s, id); len(data) != 3 || string(data[0].Data) != "i" || string(data[2].Data) != "k" {
		t.Fatalf("after a batch of 5, read %d records from %q; want i j k", len(data), data[0].Data)
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		shards int
		opts   []memstream.Option
	}{
		{"ZeroShards", 0, nil},
		{"NegativeShards", -1, nil},
		{"TooManyShards", memstream.MaxShards + 1, nil},
		{"NilClock", 1, []memstream.Option{memstream.WithClock(nil)}},
		{"ZeroRetention", 1, []memstream.Option{memstream.WithRetention(0)}},
		{"NegativeRetention", 1, []memstream.Option{memstream.WithRetention(-time.Second)}},
		{"ZeroMaxRecords", 1, []memstream.Option{memstream.WithMaxRecords(0)}},
		{"NegativeMaxRecords", 1, []memstream.Option{memstream.WithMaxRecords(-1)}},
		{"NilOption", 1, []memstream.Option{nil}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := memstream.New(c.shards, c.opts...)
			if !errors.Is(err, memstream.ErrInvalidOption) || s != nil {
				t.Fatalf("New = %v, %v; want nil, ErrInvalidOption", s, err)
			}
		})
	}
}

// TestInitialShards checks the IDs and ranges against what Kinesis'
// CreateStream produces for two shards.
func TestInitialShards(t *testing.T) {
	s := newStream(t, 2)
	got, err := s.Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []source.Shard{
		{ID: "shardId-000000000000", HashKeyStart: "0", HashKeyEnd: "170141183460469231731687303715884105727",
			StartingSequenceNumber: "00000000000000000001000000000000"},
		{ID: "shardId-000000000001", HashKeyStart: "170141183460469231731687303715884105728",
			HashKeyEnd: "340282366920938463463374607431768211455", StartingSequenceNumber: "00000000000000000001000000000001"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Shards (-want +got):\n%s", diff)
	}
}

func TestPutErrors(t *testing.T) {
	s := newStream(t, 2)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		key  string
		data []byte
		want error
	}{
		{"EmptyKey", context.Background(), "", []byte("x"), memstream.ErrInvalidArgument},
		{"KeyTooLong", context.Background(), strings.Repeat("é", memstream.MaxPartitionKeyLen+1), nil, memstream.ErrInvalidArgument},
		{"DataTooLarge", context.Background(), "k", make([]byte, memstream.MaxDataLen+1), memstream.ErrInvalidArgument},
		{"Canceled", canceled, "k", []byte("x"), context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := s.Put(c.ctx, c.key, c.data); !errors.Is(err, c.want) {
				t.Fatalf("Put = %v, want %v", err, c.want)
			}
			if _, err := s.PutRecords(c.ctx, []memstream.Entry{{PartitionKey: "ok", Data: []byte("ok")}, {PartitionKey: c.key, Data: c.data}}); !errors.Is(err, c.want) {
				t.Fatalf("PutRecords = %v, want %v", err, c.want)
			}
		})
	}
	for _, key := range []string{"abc", "-1", "+1", "", "1e3", "340282366920938463463374607431768211456"} {
		t.Run("ExplicitHashKey="+key, func(t *testing.T) {
			e := memstream.Entry{PartitionKey: "k", ExplicitHashKey: key}
			if key == "" {
				e.ExplicitHashKey = " "
			}
			if _, err := s.PutRecords(context.Background(), []memstream.Entry{e}); !errors.Is(err, memstream.ErrInvalidArgument) {
				t.Fatalf("PutRecords = %v, want ErrInvalidArgument", err)
			}
		})
	}
	// Nothing was stored by any failed call.
	for id := range shardByID(t, s) {
		if data, _ := readAll(t, mustOpen(t, s, id, source.Position{})); len(data) != 0 {
			t.Fatalf("failed puts stored %q in %s", data, id)
		}
	}
	// The longest valid key is accepted.
	mustPut(t, s, strings.Repeat("é", memstream.MaxPartitionKeyLen), "")
}

func TestReshardErrors(t *testing.T) {
	ctx := context.Background()
	s := newStream(t, 3)
	if err := s.MergeShards(ctx, "shardId-000000000000", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
	// Shard 2 starts at 2*floor(2^128/3).
	third := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(3))
	start2 := new(big.Int).Mul(third, big.NewInt(2)).String()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range []struct {
		name string
		do   func() error
		want error
	}{
		{"SplitUnknown", func() error { return s.SplitShard(ctx, "nope", "1") }, source.ErrShardNotFound},
		{"SplitClosed", func() error { return s.SplitShard(ctx, "shardId-000000000000", "1") }, memstream.ErrShardClosed},
		{"SplitMalformed", func() error { return s.SplitShard(ctx, "shardId-000000000002", "x") }, memstream.ErrInvalidArgument},
		{"SplitAtStart", func() error { return s.SplitShard(ctx, "shardId-000000000002", start2) }, memstream.ErrInvalidArgument},
		{"SplitBelowRange", func() error { return s.SplitShard(ctx, "shardId-000000000002", "5") }, memstream.ErrInvalidArgument},
		{"SplitCanceled", func() error { return s.SplitShard(canceled, "shardId-000000000002", "5") }, context.Canceled},
		{"MergeUnknown", func() error { return s.MergeShards(ctx, "shardId-000000000002", "nope") }, source.ErrShardNotFound},
		{"MergeClosed", func() error { return s.MergeShards(ctx, "shardId-000000000001", "shardId-000000000002") }, memstream.ErrShardClosed},
		{"MergeSelf", func() error { return s.MergeShards(ctx, "shardId-000000000002", "shardId-000000000002") }, memstream.ErrInvalidArgument},
		{"MergeCanceled", func() error { return s.MergeShards(canceled, "shardId-000000000002", "shardId-000000000003") }, context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.do(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Not adjacent: split 2 into 4 and 5, then merge 3 (the low third of
	// the space, from the first merge) with 5 (the top).
	mid := new(big.Int).Add(new(big.Int).Mul(third, big.NewInt(2)), big.NewInt(1000)).String()
	if err := s.SplitShard(ctx, "shardId-000000000002", mid); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeShards(ctx, "shardId-000000000003", "shardId-000000000005"); !errors.Is(err, memstream.ErrInvalidArgument) {
		t.Fatalf("merge of non-adjacent shards = %v, want ErrInvalidArgument", err)
	}
	// Splitting at the very end of a range leaves a one-key child.
	sh := shardByID(t, s)["shardId-000000000005"]
	if err := s.SplitShard(ctx, sh.ID, sh.HashKeyEnd); err != nil {
		t.Fatalf("split at the range's last key: %v", err)
	}
	if c := shardByID(t, s)["shardId-000000000007"]; c.HashKeyStart != sh.HashKeyEnd || c.HashKeyEnd != sh.HashKeyEnd {
		t.Fatalf("upper child %+v, want the single key %s", c, sh.HashKeyEnd)
	}
}

func TestOpenAndReadErrors(t *testing.T) {
	ctx := context.Background()
	s := newStream(t, 1)
	_, seq := mustPut(t, s, "k", "x")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		id   string
		from source.Position
		want error
	}{
		{"Unknown", ctx, "shardId-000000000001", source.Position{}, source.ErrShardNotFound},
		{"Canceled", canceled, "shardId-000000000000", source.Position{}, context.Canceled},
		{"BadType", ctx, "shardId-000000000000", source.Position{Type: -1}, source.ErrInvalidPosition},
		{"ShortSeq", ctx, "shardId-000000000000", source.Position{Type: source.AtSequence, SequenceNumber: "1"}, source.ErrInvalidPosition},
		{"SignedSeq", ctx, "shardId-000000000000", source.Position{Type: source.AtSequence, SequenceNumber: "+" + seq[1:]}, source.ErrInvalidPosition},
		{"OverflowSeq", ctx, "shardId-000000000000", source.Position{Type: source.AtSequence, SequenceNumber: strings.Repeat("9", 20) + seq[20:]}, source.ErrInvalidPosition},
		{"FutureSeq", ctx, "shardId-000000000000", source.Position{Type: source.AfterSequence, SequenceNumber: fmt.Sprintf("%020d%012d", 2, 0)}, source.ErrInvalidPosition},
		{"ZeroSeq", ctx, "shardId-000000000000", source.Position{Type: source.AtSequence, SequenceNumber: fmt.Sprintf("%020d%012d", 0, 0)}, source.ErrInvalidPosition},
		{"OtherShardSeq", ctx, "shardId-000000000000", source.Position{Type: source.AtSequence, SequenceNumber: fmt.Sprintf("%020d%012d", 1, 1)}, source.ErrInvalidPosition},
		{"NoTimestamp", ctx, "shardId-000000000000", source.Position{Type: source.AtTimestamp}, source.ErrInvalidPosition},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.Open(c.ctx, c.id, c.from)
			if !errors.Is(err, c.want) || r != nil {
				t.Fatalf("Open = %v, %v; want nil, %v", r, err, c.want)
			}
		})
	}

	r := mustOpen(t, s, "shardId-000000000000", source.Position{Type: source.AtSequence, SequenceNumber: seq})
	for _, c := range []struct {
		name string
		ctx  context.Context
		max  int
		want error
	}{
		{"ZeroMax", ctx, 0, memstream.ErrInvalidArgument},
		{"NegativeMax", ctx, -1, memstream.ErrInvalidArgument},
		{"Canceled", canceled, 1, context.Canceled},
	} {
		t.Run("Read"+c.name, func(t *testing.T) {
			if _, err := r.Read(c.ctx, c.max); !errors.Is(err, c.want) {
				t.Fatalf("Read = %v, want %v", err, c.want)
			}
		})
	}
	// The failed reads did not move the reader.
	if data, _ := readAll(t, r); !cmp.Equal(data, []string{"x"}) {
		t.Fatalf("after failed reads, read %q, want [x]", data)
	}
	if err := r.Wait(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait(canceled) = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := r.Read(ctx, 1); !errors.Is(err, memstream.ErrClosed) {
		t.Fatalf("Read after Close = %v, want ErrClosed", err)
	}
	if err := r.Wait(ctx); !errors.Is(err, memstream.ErrClosed) {
		t.Fatalf("Wait after Close = %v, want ErrClosed", err)
	}
}

// TestSequenceNumbersSortAcrossReshards checks the promise beyond Kinesis':
// sequence numbers sort as strings across the whole stream, and a child's
// come after its parents'.
func TestSequenceNumbersSortAcrossReshards(t *testing.T) {
	ctx := context.Background()
	s := newStream(t, 2)
	var seqs []string
	put := func() {
		for i := range 50 {
			_, seq := mustPut(t, s, fmt.Sprint("k", i), "x")
			seqs = append(seqs, seq)
		}
	}
	put()
	sh := shardByID(t, s)["shardId-000000000000"]
	if err := s.SplitShard(ctx, sh.ID, "12345678901234567890"); err != nil {
		t.Fatal(err)
	}
	put()
	if err := s.MergeShards(ctx, "shardId-000000000003", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
	put()
	for i := 1; i < len(seqs); i++ {
		if seqs[i-1] >= seqs[i] {
			t.Fatalf("sequence number %s put after %s sorts before it", seqs[i], seqs[i-1])
		}
	}
	shards := shardByID(t, s)
	for _, sh := range shards {
		recs := readRecords(t, s, sh.ID)
		for _, r := range recs {
			if r.SequenceNumber < sh.StartingSequenceNumber || sh.Closed() && r.SequenceNumber > sh.EndingSequenceNumber {
				t.Fatalf("record %s of %s outside [%s, %s]", r.SequenceNumber, sh.ID, sh.StartingSequenceNumber, sh.EndingSequenceNumber)
			}
		}
		for _, p := range sh.Parents() {
			parent := shards[p]
			if parent.EndingSequenceNumber >= sh.StartingSequenceNumber {
				t.Fatalf("child %s starts at %s, not after parent %s's end %s", sh.ID, sh.StartingSequenceNumber, p, parent.EndingSequenceNumber)
			}
		}
	}
}

func readRecords(t *testing.T, s *memstream.Stream, id string) []source.Record {
	t.Helper()
	res, err := mustOpen(t, s, id, source.Position{}).Read(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return res.Records
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	clock.Set(t0)
	s := newStream(t, 1, memstream.WithClock(clock.Now), memstream.WithRetention(time.Hour))
	id, seqA := mustPut(t, s, "k", "a")
	early := mustOpen(t, s, id, source.Position{})
	clock.Advance(30 * time.Minute)
	mustPut(t, s, "k", "b")
	clock.Advance(31 * time.Minute) // a is 61 minutes old, b 31

	for _, c := range []struct {
		name string
		from source.Position
	}{
		{"TrimHorizon", source.Position{}},
		{"AtTrimmedSequence", source.Position{Type: source.AtSequence, SequenceNumber: seqA}},
		{"AfterTrimmedSequence", source.Position{Type: source.AfterSequence, SequenceNumber: seqA}},
		{"AtTrimmedTimestamp", source.Position{Type: source.AtTimestamp, Timestamp: t0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if data, _ := readAll(t, mustOpen(t, s, id, c.from)); !cmp.Equal(data, []string{"b"}) {
				t.Fatalf("read %q, want [b]: a is past retention", data)
			}
		})
	}
	// A reader opened before the trim skips what it had not read.
	if data, _ := readAll(t, early); !cmp.Equal(data, []string{"b"}) {
		t.Fatalf("early reader read %q, want [b]", data)
	}

	// A closed shard is listed until retention has passed since it closed.
	if err := s.SplitShard(ctx, id, "100"); err != nil {
		t.Fatal(err)
	}
	reader := mustOpen(t, s, id, source.Position{})
	clock.Advance(time.Hour)
	if _, ok := shardByID(t, s)[id]; !ok {
		t.Fatalf("%s aged out exactly at retention", id)
	}
	clock.Advance(time.Millisecond)
	if _, ok := shardByID(t, s)[id]; ok {
		t.Fatalf("%s still listed after retention", id)
	}
	if _, err := s.Open(ctx, id, source.Position{}); !errors.Is(err, source.ErrShardNotFound) {
		t.Fatalf("Open of an aged-out shard = %v, want ErrShardNotFound", err)
	}
	if data, last := readAll(t, reader); len(data) != 0 || !last.End {
		t.Fatalf("reader of an aged-out shard read %q, End=%v; want nothing and End", data, last.End)
	}
	if n := len(shardByID(t, s)); n != 2 {
		t.Fatalf("%d shards listed, want the 2 children", n)
	}
}

func TestArrivalTimes(t *testing.T) {
	clock := newFakeClock()
	clock.Set(t0)
	s := newStream(t, 1, memstream.WithClock(clock.Now))
	id, _ := mustPut(t, s, "k", "a")
	future := mustOpen(t, s, id, source.Position{Type: source.AtTimestamp, Timestamp: t0.Add(10 * time.Second)})
	clock.Advance(time.Second)
	mustPut(t, s, "k", "b")
	clock.Advance(2 * time.Second)
	mustPut(t, s, "k", "c")
	clock.Set(t0) // a clock that steps back does not reorder arrivals
	mustPut(t, s, "k", "d")
	clock.Set(t0.Add(12 * time.Second))
	mustPut(t, s, "k", "e")

	r := mustOpen(t, s, id, source.Position{})
	res, err := r.Read(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.MillisBehindLatest; got != 11000 {
		t.Fatalf("MillisBehindLatest after reading a = %d, want 11000 (e at +12s minus b at +1s)", got)
	}
	var arrivals []time.Duration
	for _, rec := range readRecords(t, s, id) {
		arrivals = append(arrivals, rec.ArrivalTime.Sub(t0))
	}
	want := []time.Duration{0, time.Second, 3 * time.Second, 3 * time.Second, 12 * time.Second}
	if !cmp.Equal(arrivals, want) {
		t.Fatalf("arrival offsets %v, want %v", arrivals, want)
	}
	// AT_TIMESTAMP past the newest record skips what arrives before it.
	if data, _ := readAll(t, future); !cmp.Equal(data, []string{"e"}) {
		t.Fatalf("AT_TIMESTAMP +10s read %q, want [e]", data)
	}
}

// TestReadSharesReadOnly checks that returned records cannot be used to
// write into the stream by appending, and that Put copies.
func TestReadSharesReadOnly(t *testing.T) {
	s := newStream(t, 1)
	mustPut(t, s, "k", "a")
	mustPut(t, s, "k", "b")
	res, err := mustOpen(t, s, "shardId-000000000000", source.Position{}).Read(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if cap(res.Records) != len(res.Records) {
		t.Fatalf("Records has cap %d > len %d: an append would write into the stream", cap(res.Records), len(res.Records))
	}
	_ = append(res.Records, source.Record{Data: []byte("evil")})
	_ = append(res.Records[0].Data, 'X')
	batch, err := s.PutRecords(context.Background(), []memstream.Entry{{PartitionKey: "k", Data: []byte("c")}, {PartitionKey: "k", Data: []byte("d")}})
	if err != nil {
		t.Fatal(err)
	}
	_ = batch
	r := mustOpen(t, s, "shardId-000000000000", source.Position{})
	first, err := r.Read(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(first.Records[2].Data, 'X') // c's Data must not reach into d's
	if data, _ := readAll(t, mustOpen(t, s, "shardId-000000000000", source.Position{})); !cmp.Equal(data, []string{"a", "b", "c", "d"}) {
		t.Fatalf("read %q, want [a b c d]", data)
	}
}

func TestExplicitHashKey(t *testing.T) {
	s := newStream(t, 4)
	res, err := s.PutRecords(context.Background(), []memstream.Entry{
		{PartitionKey: "same", ExplicitHashKey: "340282366920938463463374607431768211455"},
		{PartitionKey: "same", ExplicitHashKey: "0"},
		{PartitionKey: "same", ExplicitHashKey: "170141183460469231731687303715884105728"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.ShardID)
	}
	want := []string{"shardId-000000000003", "shardId-000000000000", "shardId-000000000002"}
	if !cmp.Equal(got, want) {
		t.Fatalf("explicit hash keys routed to %v, want %v", got, want)
	}
}

func TestPutRecordsMatchesPut(t *testing.T) {
	a, b := newStream(t, 3), newStream(t, 3)
	var entries []memstream.Entry
	for i := range 100 {
		entries = append(entries, memstream.Entry{PartitionKey: fmt.Sprint("key", i%17), Data: []byte(fmt.Sprint(i))})
	}
	res, err := a.PutRecords(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		id, seq := mustPut(t, b, e.PartitionKey, string(e.Data))
		if res[i].ShardID != id {
			t.Fatalf("entry %d: PutRecords chose %s, Put %s", i, res[i].ShardID, id)
		}
		_ = seq
	}
	for id := range shardByID(t, a) {
		got, _ := readAll(t, mustOpen(t, a, id, source.Position{}))
		want, _ := readAll(t, mustOpen(t, b, id, source.Position{}))
		if !cmp.Equal(got, want) {
			t.Fatalf("shard %s: PutRecords stored %q, Put %q", id, got, want)
		}
	}
	// The results' sequence numbers are the records'.
	for i, r := range res {
		recs := readRecords(t, a, r.ShardID)
		found := false
		for _, rec := range recs {
			if rec.SequenceNumber == r.SequenceNumber {
				found = string(rec.Data) == string(entries[i].Data)
			}
		}
		if !found {
			t.Fatalf("entry %d: result %+v names no record with its data", i, r)
		}
	}
}

// TestConcurrentReshards puts from several goroutines while shards split and
// merge, with readers following each shard to its end and then its children,
// and checks that every record is read once and each key's records in put
// order.
func TestConcurrentReshards(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newStream(t, 2)
	const writers, perWriter = 4, 2000

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i += 10 {
				var batch []memstream.Entry
				for j := range 10 {
					// Each writer owns its keys, so its put order is the key's order.
					batch = append(batch, memstream.Entry{
						PartitionKey: fmt.Sprintf("w%d-k%d", w, (i+j)%13),
						Data:         []byte(fmt.Sprintf("%d", i+j)),
					})
				}
				var err error
				if i%20 == 0 {
					_, err = s.PutRecords(ctx, batch)
				} else {
					for _, e := range batch {
						if _, _, err = s.Put(ctx, e.PartitionKey, e.Data); err != nil {
							break
						}
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}

	reshardDone := make(chan struct{})
	go func() {
		defer close(reshardDone)
		for i := range 20 {
			list, err := s.Shards(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			var open []source.Shard
			for _, sh := range list {
				if !sh.Closed() {
					open = append(open, sh)
				}
			}
			if i%2 == 0 || len(open) < 2 {
				sh := open[i%len(open)]
				lo, _ := new(big.Int).SetString(sh.HashKeyStart, 10)
				hi, _ := new(big.Int).SetString(sh.HashKeyEnd, 10)
				mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
				if err := s.SplitShard(ctx, sh.ID, new(big.Int).Add(mid, big.NewInt(1)).String()); err != nil {
					t.Error(err)
				}
			} else {
				// Merge the two lowest open shards; Shards lists in ID order,
				// so find them by range.
				byStart := map[string]source.Shard{}
				for _, sh := range open {
					byStart[sh.HashKeyStart] = sh
				}
				first := byStart["0"]
				end, _ := new(big.Int).SetString(first.HashKeyEnd, 10)
				next := byStart[end.Add(end, big.NewInt(1)).String()]
				if err := s.MergeShards(ctx, next.ID, first.ID); err != nil {
					t.Error(err)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()

	// Read shards as a Consumer would: a shard starts once its parents ended.
	seen := make(map[string]bool) // shards read to the end
	perKey := make(map[string][]int)
	writersDone := make(chan struct{})
	go func() { wg.Wait(); <-reshardDone; close(writersDone) }()
	finished := false
	for !finished {
		select {
		case <-writersDone:
			finished = true // one more pass reads what is left
		default:
		}
		list, err := s.Shards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		progress := true
		for progress {
			progress = false
			for _, sh := range list {
				if seen[sh.ID] || !sh.Closed() {
					continue
				}
				ready := true
				for _, p := range sh.Parents() {
					ready = ready && seen[p]
				}
				if !ready {
					continue
				}
				r := mustOpen(t, s, sh.ID, source.Position{})
				for {
					res, err := r.Read(ctx, 100)
					if err != nil {
						t.Fatal(err)
					}
					for _, rec := range res.Records {
						var n int
						fmt.Sscan(string(rec.Data), &n)
						perKey[rec.PartitionKey] = append(perKey[rec.PartitionKey], n)
					}
					if res.End {
						break
					}
				}
				seen[sh.ID] = true
				progress = true
			}
		}
		if finished {
			// Whatever is still open is read last, after all its parents.
			for _, sh := range list {
				if sh.Closed() {
					continue
				}
				for _, p := range sh.Parents() {
					if !seen[p] {
						t.Fatalf("open shard %s has unread parent %s", sh.ID, p)
					}
				}
				for _, rec := range readRecords(t, s, sh.ID) {
					var n int
					fmt.Sscan(string(rec.Data), &n)
					perKey[rec.PartitionKey] = append(perKey[rec.PartitionKey], n)
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	total := 0
	for k, ns := range perKey {
		total += len(ns)
		for i := 1; i < len(ns); i++ {
			if ns[i] <= ns[i-1] {
				t.Fatalf("key %s read %d after %d", k, ns[i], ns[i-1])
			}
		}
	}
	if total != writers*perWriter {
		t.Fatalf("read %d records, want %d", total, writers*perWriter)
	}
}

// TestWaitWakesEveryWaiter checks that one append wakes all readers waiting
// on the shard, and that Wait does not return early for another shard.
func TestWaitWakesEveryWaiter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newStream(t, 2)
	shardOf := func(key string) string {
		res, err := s.PutRecords(ctx, nil)
		if err != nil || len(res) != 0 {
			t.Fatalf("empty PutRecords = %v, %v", res, err)
		}
		id, _ := mustPut(t, s, key, "probe")
		return id
	}
	id := shardOf("a")
	other := "shardId-000000000000"
	if id == other {
		other = "shardId-000000000001"
	}
	done := make(chan string, 4)
	for range 3 {
		r := mustOpen(t, s, id, source.Position{Type: source.Latest})
		go func() {
			if err := r.Wait(ctx); err != nil {
				t.Error(err)
			}
			done <- id
		}()
	}
	o := mustOpen(t, s, other, source.Position{Type: source.Latest})
	octx, ocancel := context.WithCancel(ctx)
	go func() {
		err := o.Wait(octx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Wait on the other shard = %v, want context.Canceled", err)
		}
		done <- other
	}()
	time.Sleep(20 * time.Millisecond)
	mustPut(t, s, "a", "wake")
	for range 3 {
		if got := <-done; got != id {
			t.Fatalf("a put to %s woke a waiter on %s", id, got)
		}
	}
	ocancel()
	<-done
}

// TestLargeShard crosses the stream's internal chunk boundaries: reads in
// big batches, positions and retention over tens of thousands of records.
func TestLargeShard(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s := newStream(t, 1, memstream.WithClock(clock.Now), memstream.WithRetention(time.Hour))
	const n = 50000
	entries := make([]memstream.Entry, n)
	for i := range entries {
		entries[i] = memstream.Entry{PartitionKey: "k", Data: []byte(fmt.Sprint(i))}
	}
	var res []memstream.PutResult
	for i := 0; i < n; i += 10000 {
		part, err := s.PutRecords(ctx, entries[i:i+10000])
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, part...)
		clock.Advance(time.Minute)
	}
	check := func(name string, r source.ShardReader, from int) {
		t.Helper()
		next := from
		for {
			got, err := r.Read(ctx, 10000)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Records) == 0 {
				break
			}
			if len(got.Records) > 10000 {
				t.Fatalf("%s: Read(10000) returned %d", name, len(got.Records))
			}
			for _, rec := range got.Records {
				if string(rec.Data) != fmt.Sprint(next) || rec.SequenceNumber != res[next].SequenceNumber {
					t.Fatalf("%s: read %s (%s), want %d (%s)", name, rec.Data, rec.SequenceNumber, next, res[next].SequenceNumber)
				}
				next++
			}
		}
		if next != n {
			t.Fatalf("%s: read up to %d, want %d", name, next, n)
		}
	}
	id := res[0].ShardID
	check("TrimHorizon", mustOpen(t, s, id, source.Position{}), 0)
	check("AtSequence", mustOpen(t, s, id, source.Position{Type: source.AtSequence, SequenceNumber: res[33333].SequenceNumber}), 33333)
	check("AfterSequence", mustOpen(t, s, id, source.Position{Type: source.AfterSequence, SequenceNumber: res[16383].SequenceNumber}), 16384)
	check("AtTimestamp", mustOpen(t, s, id, source.Position{Type: source.AtTimestamp, Timestamp: t0.Add(2 * time.Minute)}), 20000)
	// The first 30,000 arrived more than an hour ago once the clock moves
	// 57 minutes on (they arrived at +0, +1 and +2 minutes).
	clock.Advance(57*time.Minute + time.Second)
	check("Trimmed", mustOpen(t, s, id, source.Position{}), 30000)
	check("AtTrimmedSequence", mustOpen(t, s, id, source.Position{Type: source.AtSequence, SequenceNumber: res[100].SequenceNumber}), 30000)
}

// TestShardsIsASnapshot lists shards while another goroutine reshards: a
// closed shard is never listed without the children that replaced it, and
// the open shards always cover the hash key space once.
func TestShardsIsASnapshot(t *testing.T) {
	ctx := context.Background()
	s := newStream(t, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			id := fmt.Sprintf("shardId-%012d", 3*i)
			// Alternate: split the single open shard, then merge its two
			// children back into one.
			if err := s.SplitShard(ctx, id, "170141183460469231731687303715884105728"); err != nil {
				t.Error(err)
				return
			}
			if err := s.MergeShards(ctx, fmt.Sprintf("shardId-%012d", 3*i+1), fmt.Sprintf("shardId-%012d", 3*i+2)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		list, err := s.Shards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		parents := map[string]bool{}
		open := new(big.Int)
		for _, sh := range list {
			for _, p := range sh.Parents() {
				parents[p] = true
			}
			if !sh.Closed() {
				lo, _ := new(big.Int).SetString(sh.HashKeyStart, 10)
				hi, _ := new(big.Int).SetString(sh.HashKeyEnd, 10)
				open.Add(open, new(big.Int).Sub(hi, lo)).Add(open, big.NewInt(1))
			}
		}
		for _, sh := range list {
			if sh.Closed() && !parents[sh.ID] {
				t.Fatalf("closed %s listed without its children", sh.ID)
			}
		}
		if open.Cmp(new(big.Int).Lsh(big.NewInt(1), 128)) != 0 {
			t.Fatalf("open shards cover %s hash keys, want 2^128", open)
		}
	}
}
