package sourcetest

// The subtests of reading one shard, and the helpers every subtest uses.

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/source"
)

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
	st := s.newStream(t, 4)
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
	st := s.newStream(t, 4)
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
	st := s.newStream(t, 1)
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
	st := s.newStream(t, 1)
	var puts []put
	for i := range 10 {
		if i == 5 {
			s.cfg.tick()
		}
		puts = append(puts, s.put(t, ctx, st, fmt.Sprintf("k%d", i%3), fmt.Sprint(i)))
	}
	id := puts[0].shard
	all, _ := s.readN(t, ctx, s.open(t, ctx, st, id, source.Position{Type: source.TrimHorizon}), 10, 100)
	checkRecords(t, all, puts)

	latest := s.open(t, ctx, s.view(t, st), id, source.Position{Type: source.Latest})
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
		readers[i] = s.open(t, ctx, s.view(t, st), id, c.from)
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
	st := s.newStream(t, 1)
	var puts []put
	for i := range 25 {
		puts = append(puts, s.put(t, ctx, st, "k", fmt.Sprint(i)))
	}
	r := s.open(t, ctx, st, puts[0].shard, source.Position{})
	got, _ := s.readN(t, ctx, r, 25, 7) // readN fails on any batch over 7
	checkRecords(t, got, puts)

	// Catching up in small batches: MillisBehindLatest is never negative.
	r.Close()
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
	st := s.newStream(t, 1)
	var puts []put
	for i := range 8 {
		puts = append(puts, s.put(t, ctx, st, "k", fmt.Sprint(i)))
	}
	a := s.open(t, ctx, st, puts[0].shard, source.Position{})
	b := s.open(t, ctx, s.view(t, st), puts[0].shard, source.Position{})
	gotA, _ := s.take(t, ctx, a, 3, 100)
	gotB, _ := s.readN(t, ctx, b, 8, 100)
	restA, _ := s.readN(t, ctx, a, 5, 100)
	checkRecords(t, append(gotA, restA...), puts)
	checkRecords(t, gotB, puts)
}

// oneReaderPerShard checks a backend declared WithOneReaderPerShard: a
// second reader of a shard on the same view is refused or ends the first,
// and once both are closed the shard can be read again there.
func (s suite) oneReaderPerShard(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 1)
	puts := []put{s.put(t, ctx, st, "k", "first"), s.put(t, ctx, st, "k", "second")}
	id := puts[0].shard
	a := s.open(t, ctx, st, id, source.Position{})
	got, _ := s.take(t, ctx, a, 1, 1)
	checkRecords(t, got, puts[:1])
	b, err := st.Open(ctx, id, source.Position{})
	if err == nil {
		t.Cleanup(func() { b.Close() })
		if _, err := a.Read(ctx, 10); err == nil {
			t.Fatal("a second reader of the shard opened, and the first still reads; WithOneReaderPerShard says the backend serves one: if it now serves several, drop the option")
		}
		got, _ := s.readN(t, ctx, b, 2, 10)
		checkRecords(t, got, puts)
		b.Close()
	}
	a.Close()
	got, _ = s.readN(t, ctx, s.open(t, ctx, st, id, source.After(source.Sequence{Number: puts[0].seq})), 1, 10)
	checkRecords(t, got, puts[1:])
}

func (s suite) wait(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 1)
	first := s.put(t, ctx, st, "k", "first")
	r := s.open(t, ctx, st, first.shard, source.Position{Type: source.Latest})
	w, ok := r.(source.Waiter)
	if !ok {
		t.Fatalf("reader is a %T, not a source.Waiter; declare a backend without Wait with WithoutWaiter", r)
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
	t.Run("ShardClosed", func(t *testing.T) {
		rs := resharder(t, st)
		go func() { done <- w.Wait(ctx) }()
		time.Sleep(10 * time.Millisecond)
		shards := s.shards(t, ctx, st)
		if err := rs.SplitShard(ctx, first.shard, midpoint(t, shards[first.shard])); err != nil {
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
	})
}

// waitByPolling is Wait for readers that cannot wait: what a Consumer
// polling Read relies on instead.
func (s suite) waitByPolling(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 1)
	first := s.put(t, ctx, st, "k", "first")
	r := s.open(t, ctx, st, first.shard, source.Position{Type: source.Latest})
	if _, ok := r.(source.Waiter); ok {
		t.Fatalf("reader is a %T, a source.Waiter, but WithoutWaiter says it is not; drop the option", r)
	}
	s.readN(t, ctx, r, 0, 10)
	second := s.put(t, ctx, st, "k", "second")
	got, _ := s.readN(t, ctx, r, 1, 10)
	checkRecords(t, got, []put{second})

	t.Run("ShardClosed", func(t *testing.T) {
		rs := resharder(t, st)
		shards := s.shards(t, ctx, st)
		if err := rs.SplitShard(ctx, first.shard, midpoint(t, shards[first.shard])); err != nil {
			t.Fatal(err)
		}
		s.readToEnd(t, ctx, r, 0, 10)
	})
}

func (s suite) unknownShard(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 1)
	_, err := st.Open(ctx, "shardId-999999999999", source.Position{})
	if err == nil {
		t.Fatal("Open of an unknown shard: no error")
	}
	if !errors.Is(err, source.ErrShardNotFound) {
		t.Fatalf("Open of an unknown shard = %v, want source.ErrShardNotFound", err)
	}
}

func (s suite) invalidPositions(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 2)
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
