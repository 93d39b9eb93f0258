package memstream_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// The model keeps every record ever put, in plain slices, and computes
// routing with math/big from the Kinesis rules; retention and iterator
// positions are filters over that history.

type mRecord struct {
	key, data, seq, shard string
	arrival               time.Time
}

type mShard struct {
	id, parent, adjacent string
	lo, hi               *big.Int
	closed               bool
	closedAt             time.Time
	recs                 []mRecord
}

type mReader struct {
	r         source.ShardReader
	shard     *mShard
	next      int       // index in shard.recs of the next candidate
	notBefore time.Time // AT_TIMESTAMP: skip earlier arrivals
}

type model struct {
	s         *memstream.Stream
	clock     *fakeClock
	retention time.Duration
	shards    []*mShard // in ID order
	lastSeq   string
	readers   []*mReader
	puts      int
}

var propertyKeys = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}

func mHash(key string) *big.Int {
	sum := md5.Sum([]byte(key))
	return new(big.Int).SetBytes(sum[:])
}

func (m *model) cutoff() time.Time { return m.clock.Now().Add(-m.retention) }

func (m *model) retained(r mRecord) bool { return !r.arrival.Before(m.cutoff()) }

func (m *model) listed(sh *mShard) bool { return !sh.closed || !sh.closedAt.Before(m.cutoff()) }

func (m *model) open() []*mShard {
	var open []*mShard
	for _, sh := range m.shards {
		if !sh.closed {
			open = append(open, sh)
		}
	}
	slices.SortFunc(open, func(a, b *mShard) int { return a.lo.Cmp(b.lo) })
	return open
}

func (m *model) route(key string) *mShard {
	h := mHash(key)
	for _, sh := range m.shards {
		if !sh.closed && sh.lo.Cmp(h) <= 0 && h.Cmp(sh.hi) <= 0 {
			return sh
		}
	}
	panic("model: no open shard holds " + h.String())
}

func (m *model) newShard(lo, hi *big.Int, parent, adjacent string) *mShard {
	sh := &mShard{id: fmt.Sprintf("shardId-%012d", len(m.shards)), lo: lo, hi: hi, parent: parent, adjacent: adjacent}
	m.shards = append(m.shards, sh)
	return sh
}

func (m *model) byID(id string) *mShard {
	for _, sh := range m.shards {
		if sh.id == id {
			return sh
		}
	}
	return nil
}

// record checks one put's result against the model and stores it. A
// record's sequence number sorts after every one handed out by an earlier
// call, and after the previous record of its shard.
func (m *model) record(t *rapid.T, key, data, shardID, seq string) {
	want := m.route(key)
	if shardID != want.id {
		t.Fatalf("key %q (hash %s) went to %s, want %s", key, mHash(key), shardID, want.id)
	}
	if seq <= m.lastSeq {
		t.Fatalf("sequence number %s does not sort after %s, handed out by an earlier call", seq, m.lastSeq)
	}
	if n := len(want.recs); n > 0 && seq <= want.recs[n-1].seq {
		t.Fatalf("sequence number %s does not sort after %s, the previous in %s", seq, want.recs[n-1].seq, shardID)
	}
	want.recs = append(want.recs, mRecord{key: key, data: data, seq: seq, shard: shardID, arrival: m.clock.Now()})
}

func (m *model) put(t *rapid.T) {
	key := rapid.SampledFrom(propertyKeys).Draw(t, "key")
	m.puts++
	data := fmt.Sprint(m.puts)
	id, seq, err := m.s.Put(context.Background(), key, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	m.record(t, key, data, id, seq)
	m.lastSeq = seq
}

func (m *model) putRecords(t *rapid.T) {
	n := rapid.IntRange(0, 6).Draw(t, "n")
	entries := make([]memstream.Entry, n)
	for i := range entries {
		m.puts++
		entries[i] = memstream.Entry{PartitionKey: rapid.SampledFrom(propertyKeys).Draw(t, "key"), Data: []byte(fmt.Sprint(m.puts))}
	}
	res, err := m.s.PutRecords(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != n {
		t.Fatalf("PutRecords of %d entries returned %d results", n, len(res))
	}
	for i, e := range entries {
		m.record(t, e.PartitionKey, string(e.Data), res[i].ShardID, res[i].SequenceNumber)
	}
	for _, r := range res {
		m.lastSeq = max(m.lastSeq, r.SequenceNumber)
	}
}

func (m *model) split(t *rapid.T) {
	open := m.open()
	sh := rapid.SampledFrom(open).Draw(t, "shard")
	width := new(big.Int).Sub(sh.hi, sh.lo)
	if width.Sign() == 0 {
		t.Skip("single-key shard")
	}
	// A split key anywhere in (lo, hi], biased to the middle by a fraction.
	frac := rapid.IntRange(0, 1000).Draw(t, "fraction")
	key := new(big.Int).Mul(width, big.NewInt(int64(frac)))
	key.Div(key, big.NewInt(1000))
	key.Add(key, sh.lo)
	if key.Cmp(sh.lo) == 0 {
		key.Add(key, big.NewInt(1))
	}
	if rapid.IntRange(0, 9).Draw(t, "invalid") == 0 {
		bad := new(big.Int).Set(sh.lo) // the range's own start is never a split key
		if err := m.s.SplitShard(context.Background(), sh.id, bad.String()); !errors.Is(err, memstream.ErrInvalidArgument) {
			t.Fatalf("split of %s at its start = %v, want ErrInvalidArgument", sh.id, err)
		}
		return
	}
	if err := m.s.SplitShard(context.Background(), sh.id, key.String()); err != nil {
		t.Fatalf("SplitShard(%s, %s): %v", sh.id, key, err)
	}
	sh.closed, sh.closedAt = true, m.clock.Now()
	m.newShard(sh.lo, new(big.Int).Sub(key, big.NewInt(1)), sh.id, "")
	m.newShard(key, sh.hi, sh.id, "")
}

func (m *model) merge(t *rapid.T) {
	open := m.open()
	if len(open) < 2 {
		t.Skip("one open shard")
	}
	i := rapid.IntRange(0, len(open)-2).Draw(t, "pair")
	lo, hi := open[i], open[i+1]
	a, b := lo, hi
	if rapid.Bool().Draw(t, "upperFirst") {
		a, b = hi, lo
	}
	if i+2 < len(open) && rapid.IntRange(0, 9).Draw(t, "invalid") == 0 {
		far := open[i+2]
		if err := m.s.MergeShards(context.Background(), lo.id, far.id); !errors.Is(err, memstream.ErrInvalidArgument) {
			t.Fatalf("merge of non-adjacent %s and %s = %v, want ErrInvalidArgument", lo.id, far.id, err)
		}
		return
	}
	if err := m.s.MergeShards(context.Background(), a.id, b.id); err != nil {
		t.Fatalf("MergeShards(%s, %s): %v", a.id, b.id, err)
	}
	now := m.clock.Now()
	a.closed, a.closedAt = true, now
	b.closed, b.closedAt = true, now
	m.newShard(lo.lo, hi.hi, a.id, b.id)
}

func (m *model) advance(t *rapid.T) {
	m.clock.Advance(time.Duration(rapid.IntRange(0, 40).Draw(t, "minutes")) * time.Minute)
}

func (m *model) openReader(t *rapid.T) {
	var listed []*mShard
	for _, sh := range m.shards {
		if m.listed(sh) {
			listed = append(listed, sh)
		}
	}
	sh := rapid.SampledFrom(listed).Draw(t, "shard")
	rd := &mReader{shard: sh}
	var from source.Position
	switch typ := rapid.SampledFrom([]source.PositionType{source.TrimHorizon, source.Latest, source.AtSequence, source.AfterSequence, source.AtTimestamp}).Draw(t, "type"); typ {
	case source.TrimHorizon:
	case source.Latest:
		from.Type, rd.next = typ, len(sh.recs)
	case source.AtSequence, source.AfterSequence:
		if len(sh.recs) == 0 {
			t.Skip("no sequence number in the shard")
		}
		i := rapid.IntRange(0, len(sh.recs)-1).Draw(t, "record")
		from = source.Position{Type: typ, SequenceNumber: sh.recs[i].seq}
		rd.next = i
		if typ == source.AfterSequence {
			rd.next++
		}
		if !m.retained(sh.recs[i]) {
			rd.next = 0 // a trimmed record: start at the trim horizon
		}
	case source.AtTimestamp:
		back := time.Duration(rapid.IntRange(-10, 120).Draw(t, "minutesBack")) * time.Minute
		from = source.Position{Type: typ, Timestamp: m.clock.Now().Add(-back)}
		rd.notBefore = from.Timestamp
	}
	r, err := m.s.Open(context.Background(), sh.id, from)
	if err != nil {
		t.Fatalf("Open(%s, %v %s): %v", sh.id, from.Type, from.SequenceNumber, err)
	}
	rd.r = r
	m.readers = append(m.readers, rd)
}

// openForeign opens a shard at a sequence number of another shard.
func (m *model) openForeign(t *rapid.T) {
	var pairs [][2]*mShard
	for _, a := range m.shards {
		for _, b := range m.shards {
			if a != b && m.listed(a) && len(b.recs) > 0 {
				pairs = append(pairs, [2]*mShard{a, b})
			}
		}
	}
	if len(pairs) == 0 {
		t.Skip("no other shard has records")
	}
	p := rapid.SampledFrom(pairs).Draw(t, "pair")
	seq := rapid.SampledFrom(p[1].recs).Draw(t, "record").seq
	if _, err := m.s.Open(context.Background(), p[0].id, source.Position{Type: source.AtSequence, SequenceNumber: seq}); !errors.Is(err, source.ErrInvalidPosition) {
		t.Fatalf("Open(%s) at %s's sequence number %s = %v, want ErrInvalidPosition", p[0].id, p[1].id, seq, err)
	}
}

// candidates returns the indexes of the records a reader has yet to see.
func (m *model) candidates(rd *mReader) []int {
	var out []int
	for i := rd.next; i < len(rd.shard.recs); i++ {
		r := rd.shard.recs[i]
		if m.retained(r) && !r.arrival.Before(rd.notBefore) {
			out = append(out, i)
		}
	}
	return out
}

func (m *model) read(t *rapid.T) {
	if len(m.readers) == 0 {
		t.Skip("no reader")
	}
	rd := rapid.SampledFrom(m.readers).Draw(t, "reader")
	max := rapid.IntRange(1, 5).Draw(t, "max")
	res, err := rd.r.Read(context.Background(), max)
	if err != nil {
		t.Fatalf("Read(%s): %v", rd.shard.id, err)
	}
	cand := m.candidates(rd)
	take := cand[:min(max, len(cand))]
	var want []mRecord
	for _, i := range take {
		want = append(want, rd.shard.recs[i])
	}
	var got []mRecord
	for _, r := range res.Records {
		got = append(got, mRecord{key: r.PartitionKey, data: string(r.Data), seq: r.SequenceNumber, shard: r.ShardID, arrival: r.ArrivalTime})
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(mRecord{})); diff != "" {
		t.Fatalf("Read(%s, %d) (-want +got):\n%s", rd.shard.id, max, diff)
	}
	rest := cand[len(take):]
	if len(take) > 0 {
		rd.next = take[len(take)-1] + 1
	} else {
		rd.next = len(rd.shard.recs)
	}
	if len(rest) > 0 {
		rd.notBefore = time.Time{}
	}
	if end := rd.shard.closed && len(rest) == 0; res.End != end {
		t.Fatalf("Read(%s) End = %v, want %v", rd.shard.id, res.End, end)
	}
	var behind int64
	if len(rest) > 0 {
		recs := rd.shard.recs
		behind = recs[len(recs)-1].arrival.Sub(recs[rest[0]].arrival).Milliseconds()
	}
	if res.MillisBehindLatest != behind {
		t.Fatalf("Read(%s) MillisBehindLatest = %d, want %d", rd.shard.id, res.MillisBehindLatest, behind)
	}
	if w, ok := rd.r.(source.Waiter); ok && (len(rest) > 0 || rd.shard.closed) {
		// Wait must not block when a Read has something to say.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := w.Wait(ctx); err != nil {
			t.Fatalf("Wait with records pending or a closed shard = %v", err)
		}
	}
}

func (m *model) check(t *rapid.T) {
	got, err := m.s.Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []source.Shard
	for _, sh := range m.shards {
		if !m.listed(sh) {
			continue
		}
		w := source.Shard{ID: sh.id, ParentID: sh.parent, AdjacentParentID: sh.adjacent, HashKeyStart: sh.lo.String(), HashKeyEnd: sh.hi.String()}
		want = append(want, w)
	}
	// Sequence number bounds are checked against the records, not modelled.
	var bare []source.Shard
	for _, g := range got {
		sh := m.byID(g.ID)
		if sh == nil {
			t.Fatalf("unknown shard %s listed", g.ID)
		}
		if g.Closed() != sh.closed {
			t.Fatalf("%s Closed() = %v, want %v", g.ID, g.Closed(), sh.closed)
		}
		for _, r := range sh.recs {
			if r.seq < g.StartingSequenceNumber || g.Closed() && r.seq > g.EndingSequenceNumber {
				t.Fatalf("%s holds %s outside [%s, %s]", g.ID, r.seq, g.StartingSequenceNumber, g.EndingSequenceNumber)
			}
		}
		g.StartingSequenceNumber, g.EndingSequenceNumber = "", ""
		bare = append(bare, g)
	}
	if diff := cmp.Diff(want, bare); diff != "" {
		t.Fatalf("Shards (-want +got):\n%s", diff)
	}
}

func TestProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		clock := newFakeClock()
		n := rapid.IntRange(1, 4).Draw(t, "shards")
		m := &model{clock: clock, retention: time.Hour}
		s, err := memstream.New(n, memstream.WithClock(clock.Now), memstream.WithRetention(m.retention))
		if err != nil {
			t.Fatal(err)
		}
		m.s = s
		space := new(big.Int).Lsh(big.NewInt(1), 128)
		step := new(big.Int).Div(space, big.NewInt(int64(n)))
		for i := range n {
			lo := new(big.Int).Mul(step, big.NewInt(int64(i)))
			hi := new(big.Int).Sub(new(big.Int).Add(lo, step), big.NewInt(1))
			if i == n-1 {
				hi = new(big.Int).Sub(space, big.NewInt(1))
			}
			m.newShard(lo, hi, "", "")
		}
		t.Repeat(map[string]func(*rapid.T){
			"put":         m.put,
			"putRecords":  m.putRecords,
			"split":       m.split,
			"merge":       m.merge,
			"advance":     m.advance,
			"open":        m.openReader,
			"openForeign": m.openForeign,
			"read":        m.read,
			"readAgain":   m.read, // reads and puts weigh double: they meet the
			"putAgain":    m.put,  // positions and trims the other actions set up
			"":            m.check,
		})
	})
}
