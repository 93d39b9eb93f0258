// Package streamtest is the contract suite every source.Stream passes: the
// embedded memstream, and Kinesis through its adapter against a local
// emulator. It knows nothing of any implementation; a Harness gives it fresh
// streams and hides how a backend writes and reshards.
//
// The suite checks what the Consumer relies on: hash routing by the MD5 of
// the partition key, per-shard order, every Position type, reading across a
// split and a merge (parents end with End, children list their parents, and
// each partition key's records stay in put order from parents to children),
// and the errors for unknown shards and invalid positions.
//
// A backend's test runs it with a Harness:
//
//	func TestContract(t *testing.T) {
//		streamtest.Run(t, streamtest.Harness{
//			New: func(t *testing.T, shards int) streamtest.Stream {
//				s, err := memstream.New(shards)
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			},
//		})
//	}
//
// Only the exported behaviour of source.Stream is checked, so a backend may
// return fewer records than asked, check positions lazily (on the first
// Read instead of Open), and report End with the last records or on a Read
// after them.
//
// Where a backend cannot do what Kinesis does, its Harness says so (see
// MergeOrder and NoWaiter) and the suite checks the declared behaviour
// instead: the refusal, or reading by polling. The suite never skips a
// test, so a gap is visible in the test names and a declaration that has
// gone stale (the backend learned the missing behaviour) fails.
package streamtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/source"
)

// Stream is a source.Stream the suite can also write to and reshard.
// memstream.Stream implements it as is; a remote backend wraps its client.
type Stream interface {
	source.Stream
	// Put writes one record and returns the shard that took it and its
	// sequence number.
	Put(ctx context.Context, partitionKey string, data []byte) (shardID, sequenceNumber string, err error)
	// SplitShard and MergeShards reshard as Kinesis does. They return only
	// once the new shards are listed and take records (for Kinesis: once
	// the stream is ACTIVE again).
	SplitShard(ctx context.Context, shardID, newStartingHashKey string) error
	MergeShards(ctx context.Context, shardID, adjacentShardID string) error
}

// MergeOrder is which argument orders a backend's MergeShards accepts for
// an adjacent pair of open shards.
type MergeOrder int

const (
	// MergeEitherOrder accepts either shard first, as the Kinesis service
	// does; the shard named first becomes the child's ParentID.
	MergeEitherOrder MergeOrder = iota
	// MergeLowerFirst accepts only the shard with the lower hash range
	// first and refuses the other order with an error, changing nothing.
	// kinesalite 3.3.3 behaves so. Swapping the arguments in the harness
	// would not hide the gap: the child would name the other parent first.
	MergeLowerFirst
)

func (o MergeOrder) String() string {
	switch o {
	case MergeEitherOrder:
		return "MergeEitherOrder"
	case MergeLowerFirst:
		return "MergeLowerFirst"
	}
	return fmt.Sprintf("MergeOrder(%d)", int(o))
}

// Harness adapts one implementation to the suite. Its capability fields
// (MergeOrder, NoWaiter) default to the Kinesis service's behaviour; set
// them only for a backend that falls short, and the suite checks that it
// falls short in just the declared way.
type Harness struct {
	// New returns a new, empty stream with the given number of open shards,
	// ready for use, and registers its own cleanup with t.Cleanup.
	New func(t *testing.T, shards int) Stream
	// Tick makes every record put after it arrive strictly later than every
	// record put before it: advance a fake clock, or sleep past the
	// backend's timestamp resolution. Nil sleeps 10 ms.
	Tick func()
	// Timeout bounds each test, and with it every wait for records to
	// become readable. Zero means 30 s.
	Timeout time.Duration
	// MergeOrder is which argument orders MergeShards accepts. With the
	// zero value the suite merges in both orders (Merge, MergeIntoLower);
	// with MergeLowerFirst it merges lower first (Merge) and checks that
	// the other order is refused and leaves the stream usable
	// (MergeIntoLowerRefused).
	MergeOrder MergeOrder
	// NoWaiter declares that the backend's readers do not implement
	// source.Waiter. The suite then checks, by polling Read, that a reader
	// at LATEST sees new records and the end of a shard closed under it
	// (WaitByPolling) instead of checking Wait. Readers that are Waiters
	// fail that test, as readers that are not fail Wait.
	NoWaiter bool
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("streamtest: Harness.New is nil")
	}
	if h.Tick == nil {
		h.Tick = func() { time.Sleep(10 * time.Millisecond) }
	}
	if h.Timeout == 0 {
		h.Timeout = 30 * time.Second
	}
	s := suite{h}
	type test struct {
		name string
		run  func(*testing.T, context.Context)
	}
	wait := test{"Wait", s.wait}
	if h.NoWaiter {
		wait = test{"WaitByPolling", s.waitByPolling}
	}
	var mergeIntoLower test
	switch h.MergeOrder {
	case MergeEitherOrder:
		mergeIntoLower = test{"MergeIntoLower", s.mergeIntoLower}
	case MergeLowerFirst:
		mergeIntoLower = test{"MergeIntoLowerRefused", s.mergeIntoLowerRefused}
	default:
		t.Fatalf("streamtest: Harness.MergeOrder is %v", h.MergeOrder)
	}
	tests := []test{
		{"ShardsCoverHashSpace", s.shardsCoverHashSpace},
		{"RoutingAndOrder", s.routingAndOrder},
		{"DataIsCopiedOnPut", s.dataIsCopiedOnPut},
		{"Positions", s.positions},
		{"ReadMax", s.readMax},
		{"ReadersAreIndependent", s.readersAreIndependent},
		wait,
		{"Split", s.split},
		{"Merge", s.merge},
		mergeIntoLower,
		{"ReshardErrors", s.reshardErrors},
		{"UnknownShard", s.unknownShard},
		{"InvalidPositions", s.invalidPositions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			tc.run(t, ctx)
		})
	}
}

type suite struct{ h Harness }

// put is one record the suite wrote, with where the stream says it went.
type put struct {
	key, data, shard, seq string
}

func (s suite) put(t *testing.T, ctx context.Context, st Stream, key, data string) put {
	t.Helper()
	shard, seq, err := st.Put(ctx, key, []byte(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if shard == "" || seq == "" {
		t.Fatalf("Put(%q) = shard %q, sequence number %q; want both set", key, shard, seq)
	}
	return put{key: key, data: data, shard: shard, seq: seq}
}

func (s suite) shards(t *testing.T, ctx context.Context, st Stream) map[string]source.Shard {
	t.Helper()
	list, err := st.Shards(ctx)
	if err != nil {
		t.Fatalf("Shards: %v", err)
	}
	m := make(map[string]source.Shard, len(list))
	for _, sh := range list {
		if _, dup := m[sh.ID]; dup {
			t.Fatalf("Shards lists %s twice", sh.ID)
		}
		m[sh.ID] = sh
	}
	return m
}

func (s suite) open(t *testing.T, ctx context.Context, st Stream, shardID string, from source.Position) source.ShardReader {
	t.Helper()
	r, err := st.Open(ctx, shardID, from)
	if err != nil {
		t.Fatalf("Open(%s, %v): %v", shardID, from.Type, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readN reads until it has n records, waiting for them as long as ctx
// allows, then checks that no more follow. It returns the records and the
// last ReadResult.
func (s suite) readN(t *testing.T, ctx context.Context, r source.ShardReader, n, max int) ([]source.Record, source.ReadResult) {
	t.Helper()
	got, last := s.take(t, ctx, r, n, max)
	if !last.End {
		res, err := r.Read(ctx, max)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(res.Records) != 0 {
			t.Fatalf("read %d records past the %d expected: first %q", len(res.Records), n, res.Records[0].SequenceNumber)
		}
		last = res
	}
	return got, last
}

// take reads the next n records, never asking for more than n in all nor
// more than max at once, and waits for them as long as ctx allows.
func (s suite) take(t *testing.T, ctx context.Context, r source.ShardReader, n, max int) ([]source.Record, source.ReadResult) {
	t.Helper()
	var got []source.Record
	var last source.ReadResult
	for len(got) < n {
		ask := min(max, n-len(got))
		res, err := r.Read(ctx, ask)
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(got), n, err)
		}
		if len(res.Records) > ask {
			t.Fatalf("Read(max %d) returned %d records", ask, len(res.Records))
		}
		got = append(got, res.Records...)
		last = res
		if res.End {
			break
		}
		if len(res.Records) == 0 {
			if err := s.idle(ctx, r); err != nil {
				t.Fatalf("waiting for records after %d of %d: %v", len(got), n, err)
			}
		}
	}
	if len(got) != n {
		t.Fatalf("read %d records, want %d (End=%v)", len(got), n, last.End)
	}
	return got, last
}

// readToEnd reads n records from a closed shard, at most max at a time,
// then insists on End and on nothing more after it.
func (s suite) readToEnd(t *testing.T, ctx context.Context, r source.ShardReader, n, max int) []source.Record {
	t.Helper()
	got, last := s.take(t, ctx, r, n, max)
	for !last.End {
		res, err := r.Read(ctx, 10000)
		if err != nil {
			t.Fatalf("Read to the end of a closed shard: %v", err)
		}
		if len(res.Records) != 0 {
			t.Fatalf("closed shard returned %d records past the %d put", len(res.Records), n)
		}
		last = res
		if !res.End {
			if err := s.idle(ctx, r); err != nil {
				t.Fatalf("closed shard never reported End: %v", err)
			}
		}
	}
	res, err := r.Read(ctx, 10000)
	if err != nil {
		t.Fatalf("Read after End: %v", err)
	}
	if len(res.Records) != 0 || !res.End {
		t.Fatalf("Read after End = %d records, End=%v; want none and End", len(res.Records), res.End)
	}
	return got
}

// idle pauses a reader that found nothing: Wait if it can, else a short sleep.
func (s suite) idle(ctx context.Context, r source.ShardReader) error {
	if w, ok := r.(source.Waiter); ok {
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := w.Wait(wctx); err != nil && ctx.Err() != nil {
			return err
		}
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Millisecond):
		return nil
	}
}

// checkRecords compares what was read with what was put, field by field.
func checkRecords(t *testing.T, got []source.Record, want []put) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		if r.SequenceNumber != w.seq || r.PartitionKey != w.key || string(r.Data) != w.data || r.ShardID != w.shard {
			t.Fatalf("record %d = {seq %s key %q data %q shard %s}, want {seq %s key %q data %q shard %s}",
				i, r.SequenceNumber, r.PartitionKey, r.Data, r.ShardID, w.seq, w.key, w.data, w.shard)
		}
		if r.ArrivalTime.IsZero() {
			t.Fatalf("record %d (%s) has no ArrivalTime", i, r.SequenceNumber)
		}
	}
}

func seqNum(t *testing.T, seq string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(seq, 10)
	if !ok || n.Sign() < 0 {
		t.Fatalf("sequence number %q is not a decimal number", seq)
	}
	return n
}

// hashKey is Kinesis' routing key: the MD5 of the partition key as an
// unsigned big-endian 128-bit integer.
func hashKey(partitionKey string) *big.Int {
	sum := md5.Sum([]byte(partitionKey))
	return new(big.Int).SetBytes(sum[:])
}

func hashRange(t *testing.T, sh source.Shard) (lo, hi *big.Int) {
	t.Helper()
	lo, ok1 := new(big.Int).SetString(sh.HashKeyStart, 10)
	hi, ok2 := new(big.Int).SetString(sh.HashKeyEnd, 10)
	if !ok1 || !ok2 || lo.Cmp(hi) > 0 {
		t.Fatalf("shard %s has hash key range [%q, %q]", sh.ID, sh.HashKeyStart, sh.HashKeyEnd)
	}
	return lo, hi
}

func owns(t *testing.T, sh source.Shard, partitionKey string) bool {
	lo, hi := hashRange(t, sh)
	h := hashKey(partitionKey)
	return lo.Cmp(h) <= 0 && h.Cmp(hi) <= 0
}

var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// checkCover asserts that the open shards' ranges tile [0, 2^128-1].
func checkCover(t *testing.T, shards map[string]source.Shard) {
	t.Helper()
	var open []source.Shard
	for _, sh := range shards {
		if !sh.Closed() {
			open = append(open, sh)
		}
	}
	slices.SortFunc(open, func(a, b source.Shard) int {
		la, _ := hashRange(t, a)
		lb, _ := hashRange(t, b)
		return la.Cmp(lb)
	})
	want := new(big.Int)
	for _, sh := range open {
		lo, hi := hashRange(t, sh)
		if lo.Cmp(want) != 0 {
			t.Fatalf("open shard %s starts at %s, want %s (gap or overlap)", sh.ID, lo, want)
		}
		want = new(big.Int).Add(hi, big.NewInt(1))
	}
	if want.Cmp(new(big.Int).Add(maxHashKey, big.NewInt(1))) != 0 {
		t.Fatalf("open shards end at %s, want 2^128-1", new(big.Int).Sub(want, big.NewInt(1)))
	}
}

// byShard groups puts by the shard that took them, in put order.
func byShard(puts []put) map[string][]put {
	m := make(map[string][]put)
	for _, p := range puts {
		m[p.shard] = append(m[p.shard], p)
	}
	return m
}

func keys(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = fmt.Sprintf("key-%d", i)
	}
	return k
}

func (s suite) shardsCoverHashSpace(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 4)
	shards := s.shards(t, ctx, st)
	if len(shards) != 4 {
		t.Fatalf("new stream with 4 shards lists %d", len(shards))
	}
	for _, sh := range shards {
		if sh.Closed() || len(sh.Parents()) != 0 || sh.StartingSequenceNumber == "" {
			t.Errorf("new shard %+v: want open, no parents, a starting sequence number", sh)
		}
	}
	checkCover(t, shards)
}

func (s suite) routingAndOrder(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 4)
	shards := s.shards(t, ctx, st)
	var puts []put
	for i, k := range keys(40) {
		for round := range 3 {
			puts = append(puts, s.put(t, ctx, st, k, fmt.Sprintf("%d/%d", i, round)))
		}
	}
	for _, p := range puts {
		sh, ok := shards[p.shard]
		if !ok {
			t.Fatalf("Put(%q) went to unlisted shard %s", p.key, p.shard)
		}
		if !owns(t, sh, p.key) {
			t.Fatalf("Put(%q) went to %s [%s, %s], which does not hold MD5 %s",
				p.key, sh.ID, sh.HashKeyStart, sh.HashKeyEnd, hashKey(p.key))
		}
	}
	want := byShard(puts)
	for id := range shards {
		got, _ := s.readN(t, ctx, s.open(t, ctx, st, id, source.Position{}), len(want[id]), 10000)
		checkRecords(t, got, want[id])
		for i := 1; i < len(got); i++ {
			if seqNum(t, got[i-1].SequenceNumber).Cmp(seqNum(t, got[i].SequenceNumber)) >= 0 {
				t.Fatalf("shard %s: sequence number %s follows %s", id, got[i].SequenceNumber, got[i-1].SequenceNumber)
			}
			if got[i].ArrivalTime.Before(got[i-1].ArrivalTime) {
				t.Fatalf("shard %s: record %s arrived before the one it follows", id, got[i].SequenceNumber)
			}
		}
	}
}

func (s suite) dataIsCopiedOnPut(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 1)
	buf := []byte("original")
	shard, seq, err := st.Put(ctx, "k", buf)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXX")
	got, _ := s.readN(t, ctx, s.open(t, ctx, st, shard, source.Position{}), 1, 10)
	if got[0].SequenceNumber != seq || !bytes.Equal(got[0].Data, []byte("original")) {
		t.Fatalf("read %s %q, want %s %q: Put must copy the payload", got[0].SequenceNumber, got[0].Data, seq, "original")
	}
}

func (s suite) positions(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 1)
	var puts []put
	for i := range 10 {
		if i == 5 {
			s.h.Tick()
		}
		puts = append(puts, s.put(t, ctx, st, fmt.Sprintf("k%d", i%3), fmt.Sprint(i)))
	}
	id := puts[0].shard
	all, _ := s.readN(t, ctx, s.open(t, ctx, st, id, source.Position{Type: source.TrimHorizon}), 10, 100)
	checkRecords(t, all, puts)

	latest := s.open(t, ctx, st, id, source.Position{Type: source.Latest})
	cases := []struct {
		name string
		from source.Position
		want []put
	}{
		{"TrimHorizon", source.Position{Type: source.TrimHorizon}, puts},
		{"AtSequenceFirst", source.Position{Type: source.AtSequence, SequenceNumber: puts[0].seq}, puts},
		{"AtSequence", source.Position{Type: source.AtSequence, SequenceNumber: puts[3].seq}, puts[3:]},
		{"AfterSequence", source.Position{Type: source.AfterSequence, SequenceNumber: puts[3].seq}, puts[4:]},
		{"AfterSequenceLast", source.Position{Type: source.AfterSequence, SequenceNumber: puts[9].seq}, nil},
		{"AtTimestamp", source.Position{Type: source.AtTimestamp, Timestamp: all[5].ArrivalTime}, puts[5:]},
		{"AtTimestampBeforeAll", source.Position{Type: source.AtTimestamp, Timestamp: all[0].ArrivalTime.Add(-time.Hour)}, puts},
	}
	readers := make([]source.ShardReader, len(cases))
	for i, c := range cases {
		readers[i] = s.open(t, ctx, st, id, c.from)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, last := s.readN(t, ctx, readers[i], len(c.want), 100)
			checkRecords(t, got, c.want)
			if last.End || last.MillisBehindLatest != 0 {
				t.Errorf("caught-up read of an open shard: End=%v MillisBehindLatest=%d, want false and 0", last.End, last.MillisBehindLatest)
			}
		})
	}

	// Readers opened before a put see it; LATEST sees only it.
	next := s.put(t, ctx, st, "k", "after")
	got, _ := s.readN(t, ctx, latest, 1, 100)
	checkRecords(t, got, []put{next})
	got, _ = s.readN(t, ctx, readers[4], 1, 100) // AfterSequenceLast
	checkRecords(t, got, []put{next})
}

func (s suite) readMax(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 1)
	var puts []put
	for i := range 25 {
		puts = append(puts, s.put(t, ctx, st, "k", fmt.Sprint(i)))
	}
	r := s.open(t, ctx, st, puts[0].shard, source.Position{})
	got, _ := s.readN(t, ctx, r, 25, 7) // readN fails on any batch over 7
	checkRecords(t, got, puts)

	// Catching up in small batches: MillisBehindLatest is never negative.
	r = s.open(t, ctx, st, puts[0].shard, source.Position{})
	for {
		res, err := r.Read(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.MillisBehindLatest < 0 {
			t.Fatalf("MillisBehindLatest = %d", res.MillisBehindLatest)
		}
		if len(res.Records) == 0 {
			break
		}
	}
}

func (s suite) readersAreIndependent(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 1)
	var puts []put
	for i := range 8 {
		puts = append(puts, s.put(t, ctx, st, "k", fmt.Sprint(i)))
	}
	a := s.open(t, ctx, st, puts[0].shard, source.Position{})
	b := s.open(t, ctx, st, puts[0].shard, source.Position{})
	gotA, _ := s.take(t, ctx, a, 3, 100)
	gotB, _ := s.readN(t, ctx, b, 8, 100)
	restA, _ := s.readN(t, ctx, a, 5, 100)
	checkRecords(t, append(gotA, restA...), puts)
	checkRecords(t, gotB, puts)
}

func (s suite) wait(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 1)
	first := s.put(t, ctx, st, "k", "first")
	r := s.open(t, ctx, st, first.shard, source.Position{Type: source.Latest})
	w, ok := r.(source.Waiter)
	if !ok {
		t.Fatalf("reader is a %T, not a source.Waiter; a backend without Wait sets Harness.NoWaiter", r)
	}

	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := w.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with nothing new = %v, want context.DeadlineExceeded", err)
	}

	done := make(chan error, 1)
	go func() { done <- w.Wait(ctx) }()
	time.Sleep(10 * time.Millisecond) // let Wait start blocking; correct either way
	second := s.put(t, ctx, st, "k", "second")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait woken by a put = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("a put did not wake Wait")
	}
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("Wait with a record unread = %v, want nil at once", err)
	}
	got, _ := s.readN(t, ctx, r, 1, 10)
	checkRecords(t, got, []put{second})

	// A reshard wakes a waiter on the shard it closes.
	go func() { done <- w.Wait(ctx) }()
	time.Sleep(10 * time.Millisecond)
	shards := s.shards(t, ctx, st)
	if err := st.SplitShard(ctx, first.shard, midpoint(t, shards[first.shard])); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait woken by closing the shard = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("closing the shard did not wake Wait")
	}
	s.readToEnd(t, ctx, r, 0, 10)
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("Wait at the end of a closed shard = %v, want nil at once", err)
	}
}

// waitByPolling is Wait for readers that cannot wait: what a Consumer
// polling Read relies on instead.
func (s suite) waitByPolling(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 1)
	first := s.put(t, ctx, st, "k", "first")
	r := s.open(t, ctx, st, first.shard, source.Position{Type: source.Latest})
	if _, ok := r.(source.Waiter); ok {
		t.Fatalf("reader is a %T, a source.Waiter, but Harness.NoWaiter says it is not; unset NoWaiter", r)
	}
	s.readN(t, ctx, r, 0, 10)
	second := s.put(t, ctx, st, "k", "second")
	got, _ := s.readN(t, ctx, r, 1, 10)
	checkRecords(t, got, []put{second})

	shards := s.shards(t, ctx, st)
	if err := st.SplitShard(ctx, first.shard, midpoint(t, shards[first.shard])); err != nil {
		t.Fatal(err)
	}
	s.readToEnd(t, ctx, r, 0, 10)
}

// midpoint returns the hash key that splits a shard's range in two halves.
func midpoint(t *testing.T, sh source.Shard) string {
	lo, hi := hashRange(t, sh)
	mid := new(big.Int).Add(lo, hi)
	mid.Rsh(mid, 1)
	mid.Add(mid, big.NewInt(1))
	return mid.String()
}

// checkKeyOrder asserts that, per partition key, the records read from
// parents then children come in put order.
func checkKeyOrder(t *testing.T, read []source.Record, puts []put) {
	t.Helper()
	want := make(map[string][]string)
	for _, p := range puts {
		want[p.key] = append(want[p.key], p.seq)
	}
	got := make(map[string][]string)
	for _, r := range read {
		got[r.PartitionKey] = append(got[r.PartitionKey], r.SequenceNumber)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("partition key %q read in order %v, want put order %v", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d partition keys, want %d", len(got), len(want))
	}
}

func (s suite) split(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 2)
	before := s.shards(t, ctx, st)
	var puts []put
	for i, k := range keys(30) {
		puts = append(puts, s.put(t, ctx, st, k, fmt.Sprint("a", i)))
	}
	var parent source.Shard
	for _, sh := range before {
		if parent.ID == "" || sh.ID < parent.ID {
			parent = sh
		}
	}
	mid := midpoint(t, parent)
	if err := st.SplitShard(ctx, parent.ID, mid); err != nil {
		t.Fatalf("SplitShard(%s, %s): %v", parent.ID, mid, err)
	}
	after := s.shards(t, ctx, st)
	if len(after) != 4 {
		t.Fatalf("after a split of one of 2 shards, %d shards are listed, want 4", len(after))
	}
	p := after[parent.ID]
	if !p.Closed() || p.HashKeyStart != parent.HashKeyStart || p.HashKeyEnd != parent.HashKeyEnd {
		t.Fatalf("split parent is listed as %+v, want closed with its range unchanged", p)
	}
	var children []source.Shard
	for _, sh := range after {
		if sh.ParentID == parent.ID {
			children = append(children, sh)
		}
	}
	if len(children) != 2 {
		t.Fatalf("%d shards name %s as parent, want 2", len(children), parent.ID)
	}
	slices.SortFunc(children, func(a, b source.Shard) int {
		la, _ := hashRange(t, a)
		lb, _ := hashRange(t, b)
		return la.Cmp(lb)
	})
	midN, _ := new(big.Int).SetString(mid, 10)
	lo0, hi0 := hashRange(t, children[0])
	lo1, hi1 := hashRange(t, children[1])
	plo, phi := hashRange(t, parent)
	if lo0.Cmp(plo) != 0 || hi0.Cmp(new(big.Int).Sub(midN, big.NewInt(1))) != 0 || lo1.Cmp(midN) != 0 || hi1.Cmp(phi) != 0 {
		t.Fatalf("children ranges [%s, %s] and [%s, %s], want [%s, %s-1] and [%s, %s]", lo0, hi0, lo1, hi1, plo, mid, mid, phi)
	}
	for _, c := range children {
		if c.Closed() || c.AdjacentParentID != "" {
			t.Fatalf("split child %+v: want open, with no adjacent parent", c)
		}
	}
	checkCover(t, after)

	for i, k := range keys(30) {
		p := s.put(t, ctx, st, k, fmt.Sprint("b", i))
		if p.shard == parent.ID {
			t.Fatalf("Put(%q) after the split went to the closed parent", k)
		}
		if !owns(t, after[p.shard], k) {
			t.Fatalf("Put(%q) after the split went to %s, which does not hold its hash key", k, p.shard)
		}
		puts = append(puts, p)
	}
	want := byShard(puts)
	got := s.readToEnd(t, ctx, s.open(t, ctx, st, parent.ID, source.Position{}), len(want[parent.ID]), 4)
	checkRecords(t, got, want[parent.ID])
	read := got
	for id, sh := range after {
		if id == parent.ID {
			continue
		}
		got, _ := s.readN(t, ctx, s.open(t, ctx, st, id, source.Position{}), len(want[id]), 10000)
		checkRecords(t, got, want[id])
		if sh.ParentID == parent.ID {
			read = append(read, got...)
		}
	}
	var family []put
	for _, p := range puts {
		if owns(t, parent, p.key) {
			family = append(family, p)
		}
	}
	checkKeyOrder(t, read, family)
}

func (s suite) merge(t *testing.T, ctx context.Context) { s.mergeOrdered(t, ctx, false) }

func (s suite) mergeIntoLower(t *testing.T, ctx context.Context) { s.mergeOrdered(t, ctx, true) }

// mergeOrdered merges the two lowest shards of three. The shard named first
// becomes the child's ParentID whichever range is lower; upperFirst names
// the upper one first.
func (s suite) mergeOrdered(t *testing.T, ctx context.Context, upperFirst bool) {
	st := s.h.New(t, 3)
	before := s.shards(t, ctx, st)
	ordered := byRange(t, before)
	a, b := ordered[0], ordered[1]
	if upperFirst {
		a, b = b, a
	}
	lower, upper := ordered[0], ordered[1]
	var puts []put
	for i, k := range keys(30) {
		puts = append(puts, s.put(t, ctx, st, k, fmt.Sprint("a", i)))
	}
	if err := st.MergeShards(ctx, a.ID, b.ID); err != nil {
		t.Fatalf("MergeShards(%s, %s): %v", a.ID, b.ID, err)
	}
	after := s.shards(t, ctx, st)
	if len(after) != 4 {
		t.Fatalf("after merging 2 of 3 shards, %d shards are listed, want 4", len(after))
	}
	var child source.Shard
	for _, sh := range after {
		if _, old := before[sh.ID]; !old {
			child = sh
		}
	}
	if child.ParentID != a.ID || child.AdjacentParentID != b.ID || child.Closed() {
		t.Fatalf("merged child %+v: want open, ParentID %s, AdjacentParentID %s", child, a.ID, b.ID)
	}
	if child.HashKeyStart != lower.HashKeyStart || child.HashKeyEnd != upper.HashKeyEnd {
		t.Fatalf("merged child range [%s, %s], want [%s, %s]", child.HashKeyStart, child.HashKeyEnd, lower.HashKeyStart, upper.HashKeyEnd)
	}
	if !after[a.ID].Closed() || !after[b.ID].Closed() || after[ordered[2].ID].Closed() {
		t.Fatalf("after the merge: %s closed=%v, %s closed=%v, %s closed=%v; want true, true, false",
			a.ID, after[a.ID].Closed(), b.ID, after[b.ID].Closed(), ordered[2].ID, after[ordered[2].ID].Closed())
	}
	checkCover(t, after)

	for i, k := range keys(30) {
		p := s.put(t, ctx, st, k, fmt.Sprint("b", i))
		if p.shard == a.ID || p.shard == b.ID {
			t.Fatalf("Put(%q) after the merge went to closed parent %s", k, p.shard)
		}
		puts = append(puts, p)
	}
	want := byShard(puts)
	var read []source.Record
	for _, id := range []string{a.ID, b.ID} {
		got := s.readToEnd(t, ctx, s.open(t, ctx, st, id, source.Position{}), len(want[id]), 10000)
		checkRecords(t, got, want[id])
		read = append(read, got...)
	}
	got, _ := s.readN(t, ctx, s.open(t, ctx, st, child.ID, source.Position{}), len(want[child.ID]), 10000)
	checkRecords(t, got, want[child.ID])
	read = append(read, got...)
	var family []put
	for _, p := range puts {
		if owns(t, child, p.key) {
			family = append(family, p)
		}
	}
	checkKeyOrder(t, read, family)
}

// mergeIntoLowerRefused checks a backend declared MergeLowerFirst: naming
// the upper shard of an adjacent open pair first is refused, changes no
// shard, and leaves the stream able to merge the pair lower first.
func (s suite) mergeIntoLowerRefused(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 3)
	before := s.shards(t, ctx, st)
	ordered := byRange(t, before)
	lower, upper := ordered[0], ordered[1]
	if err := st.MergeShards(ctx, upper.ID, lower.ID); err == nil {
		t.Fatalf("MergeShards(%s, %s) with the upper shard first: no error, though the harness declares %v; if the backend now takes either order, drop the declaration",
			upper.ID, lower.ID, MergeLowerFirst)
	}
	if after := s.shards(t, ctx, st); !maps.Equal(after, before) {
		t.Fatalf("a refused merge changed the shards from %v to %v", before, after)
	}
	if err := st.MergeShards(ctx, lower.ID, upper.ID); err != nil {
		t.Fatalf("MergeShards(%s, %s) after a refused merge: %v", lower.ID, upper.ID, err)
	}
	after := s.shards(t, ctx, st)
	if len(after) != 4 || !after[lower.ID].Closed() || !after[upper.ID].Closed() {
		t.Fatalf("after the merge lower first: %v; want 4 shards, %s and %s closed", after, lower.ID, upper.ID)
	}
}

// byRange returns the shards ordered by the start of their hash ranges.
func byRange(t *testing.T, shards map[string]source.Shard) []source.Shard {
	t.Helper()
	ordered := slices.Collect(maps.Values(shards))
	slices.SortFunc(ordered, func(a, b source.Shard) int {
		la, _ := hashRange(t, a)
		lb, _ := hashRange(t, b)
		return la.Cmp(lb)
	})
	return ordered
}

func (s suite) reshardErrors(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 3)
	before := s.shards(t, ctx, st)
	ordered := byRange(t, before)
	first, second, third := ordered[0], ordered[1], ordered[2]
	above, _ := new(big.Int).SetString(first.HashKeyEnd, 10)
	above.Add(above, big.NewInt(1))

	for _, c := range []struct {
		name string
		do   func() error
	}{
		{"SplitUnknownShard", func() error { return st.SplitShard(ctx, "shardId-999999999999", midpoint(t, first)) }},
		{"SplitAtRangeStart", func() error { return st.SplitShard(ctx, first.ID, first.HashKeyStart) }},
		{"SplitAboveRange", func() error { return st.SplitShard(ctx, first.ID, above.String()) }},
		{"SplitMalformedKey", func() error { return st.SplitShard(ctx, first.ID, "12x") }},
		{"MergeNotAdjacent", func() error { return st.MergeShards(ctx, first.ID, third.ID) }},
		{"MergeWithItself", func() error { return st.MergeShards(ctx, first.ID, first.ID) }},
		{"MergeUnknownShard", func() error { return st.MergeShards(ctx, first.ID, "shardId-999999999999") }},
	} {
		if err := c.do(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	after := s.shards(t, ctx, st)
	if len(after) != 3 {
		t.Fatalf("failed reshards changed the shards: %d listed, want 3", len(after))
	}
	for _, sh := range after {
		if sh.Closed() {
			t.Fatalf("failed reshards closed %s", sh.ID)
		}
	}

	// A closed shard can be neither split nor merged.
	if err := st.MergeShards(ctx, first.ID, second.ID); err != nil {
		t.Fatalf("MergeShards(%s, %s): %v", first.ID, second.ID, err)
	}
	if err := st.SplitShard(ctx, first.ID, midpoint(t, first)); err == nil {
		t.Error("SplitShard of a closed shard: no error")
	}
	if err := st.MergeShards(ctx, second.ID, third.ID); err == nil {
		t.Error("MergeShards of a closed shard: no error")
	}
}

func (s suite) unknownShard(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 1)
	_, err := st.Open(ctx, "shardId-999999999999", source.Position{})
	if err == nil {
		t.Fatal("Open of an unknown shard: no error")
	}
	if !errors.Is(err, source.ErrShardNotFound) {
		t.Fatalf("Open of an unknown shard = %v, want source.ErrShardNotFound", err)
	}
}

func (s suite) invalidPositions(t *testing.T, ctx context.Context) {
	st := s.h.New(t, 2)
	shards := s.shards(t, ctx, st)
	// A record in each shard, so each has a sequence number of its own.
	seqOf := make(map[string]string)
	for i := 0; len(seqOf) < 2; i++ {
		p := s.put(t, ctx, st, fmt.Sprint("key-", i), "x")
		seqOf[p.shard] = p.seq
	}
	var a, b string
	for id := range shards {
		if a == "" || id < a {
			a = id
		}
	}
	for id := range shards {
		if id != a {
			b = id
		}
	}
	for _, c := range []struct {
		name string
		from source.Position
	}{
		{"MalformedSequence", source.Position{Type: source.AtSequence, SequenceNumber: "not-a-number"}},
		{"EmptySequence", source.Position{Type: source.AfterSequence}},
		{"SequenceOfAnotherShard", source.Position{Type: source.AtSequence, SequenceNumber: seqOf[b]}},
		{"UnknownType", source.Position{Type: source.PositionType(42)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A backend may check lazily, on the first Read.
			r, err := st.Open(ctx, a, c.from)
			if err == nil {
				_, err = r.Read(ctx, 10)
				r.Close()
			}
			if !errors.Is(err, source.ErrInvalidPosition) {
				t.Fatalf("reading %s from %v %q = %v, want source.ErrInvalidPosition", a, c.from.Type, c.from.SequenceNumber, err)
			}
		})
	}
}
