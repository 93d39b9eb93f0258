package aggregate

import (
	"bytes"
	"context"
	"encoding"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
)

// savingCheckpointer keeps every state a processor saves, with its position.
type savingCheckpointer struct {
	states [][]byte
	at     []source.Sequence
}

func (c *savingCheckpointer) Checkpoint(context.Context) error { return nil }

func (c *savingCheckpointer) CheckpointAt(ctx context.Context, at source.Sequence) error {
	return c.CheckpointState(ctx, at, nil)
}

func (c *savingCheckpointer) CheckpointState(_ context.Context, at source.Sequence, state []byte) error {
	c.states = append(c.states, bytes.Clone(state))
	c.at = append(c.at, at)
	return nil
}

// checkingCheckpointer decodes every state p saves and compares its
// windows with p's own: a state that misses a pane shows at once, not at
// the restore after next.
type checkingCheckpointer struct {
	savingCheckpointer
	t *testing.T
	p *processor
}

func (c *checkingCheckpointer) CheckpointState(ctx context.Context, at source.Sequence, state []byte) error {
	c.t.Helper()
	st, err := decodeState(state)
	if err != nil {
		c.t.Fatalf("state %d does not decode: %v", len(c.states), err)
	}
	for g, w := range c.p.windows {
		saved, ok := st.windows[g]
		if !ok || saved.Total() != w.Total() || !slices.Equal(saved.Top(w.Len()), w.Top(w.Len())) {
			c.t.Fatalf("state %d, group %s: saved window differs from the processor's: legacy %v closed %d saved %v (total %d), live %v (total %d)", len(c.states), g, st.panes[g].legacy, len(st.panes[g].closed), saved.Top(100), saved.Total(), w.Top(100), w.Total())
		}
	}
	return c.savingCheckpointer.CheckpointState(ctx, at, state)
}

// paneRecords returns n visits of 12 groups to keys of k (so that some
// groups have no record in the newest bucket when a state is saved), at times that move
// on by a bucket now and then and, with late, sometimes fall up to 7
// buckets back (within a 5-bucket window, and past it).
const groups = 12

func paneRecords(seed uint64, n, k int, late bool) []source.Record {
	rng := rand.New(rand.NewPCG(seed, 9))
	t0 := time.Unix(1_700_000_000, 0) // date-proof: arrival times are the test's data; no processor idles here
	now := t0
	recs := make([]source.Record, n)
	for i := range recs {
		if rng.IntN(40) == 0 {
			now = now.Add(time.Second)
		}
		at := now
		if late && rng.IntN(10) == 0 {
			at = at.Add(-time.Duration(rng.IntN(14)) * 500 * time.Millisecond)
		}
		recs[i] = source.Record{Data: fmt.Appendf(nil, "g%d/k%d", rng.IntN(groups), rng.IntN(k)),
			SequenceNumber: fmt.Sprintf("%08d", i+1), ArrivalTime: at}
	}
	return recs
}

func paneAggregator(t *testing.T, out sink.Writer, capacity int) *Aggregator {
	t.Helper()
	a, err := New(Config{Size: 5 * time.Second, Bucket: time.Second, Sink: out, K: 100, PartialK: 1000, SketchCapacity: capacity,
		Decoder: DecoderFunc(func(r source.Record, dst []Item) ([]Item, error) {
			g, k, _ := bytes.Cut(r.Data, []byte{'/'})
			return append(dst, Item{Group: string(g), Key: string(k), Time: r.ArrivalTime, N: 1}), nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func process(t *testing.T, p source.Processor, recs []source.Record, cp source.Checkpointer) {
	t.Helper()
	for batch := range slices.Chunk(recs, 10) {
		if err := p.ProcessRecords(context.Background(), batch, cp); err != nil {
			t.Fatal(err)
		}
	}
}

// A processor restored from any state saved as panes, late records
// included, goes on to write exactly the snapshots the original wrote:
// counting exactly, and with Sketches while every pane holds all its keys
// (64 keys, capacity 64: every summary exact).
func TestPanesRestoreExactly(t *testing.T) {
	for _, capacity := range []int{0, 64} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("capacity=%d/seed=%d", capacity, seed), func(t *testing.T) { testPanesRestoreExactly(t, capacity, seed) })
		}
	}
}

func testPanesRestoreExactly(t *testing.T, capacity int, seed uint64) {
	{
		recs := paneRecords(seed, 3000, 64, true)
		ctx := context.Background()
		orig, _ := sink.NewMemory()
		a := paneAggregator(t, orig, capacity)
		pa := a.NewProcessor("s")
		if err := pa.Initialize(ctx, source.InitInput{ShardID: "s", Start: source.Position{Type: source.TrimHorizon}}); err != nil {
			t.Fatal(err)
		}
		cp := &checkingCheckpointer{t: t, p: pa.(*processor)}
		process(t, pa, recs, cp)
		var newest time.Time
		closed := 0
		for _, r := range recs {
			if r.ArrivalTime.Truncate(time.Second).Before(newest) {
				closed++
			}
			if b := r.ArrivalTime.Truncate(time.Second); b.After(newest) {
				newest = b
			}
		}
		if st := a.Stats(); st.Late == 0 || closed < 100 || len(cp.states) < 10 {
			t.Fatalf("%d records too late, %d for closed buckets, %d states saved; the test needs all three", st.Late, closed, len(cp.states))
		}
		for _, i := range []int{len(cp.states) / 3, len(cp.states) / 2, len(cp.states) - 2} {
			restored, _ := sink.NewMemory()
			b := paneAggregator(t, restored, capacity)
			pb := b.NewProcessor("s")
			at := cp.at[i]
			if err := pb.Initialize(ctx, source.InitInput{ShardID: "s", State: cp.states[i],
				Start: source.Position{Type: source.AfterSequence, SequenceNumber: at.Number}}); err != nil {
				t.Fatal(err)
			}
			rest := slices.IndexFunc(recs, func(r source.Record) bool { return r.Sequence().Compare(at) > 0 })
			process(t, pb, recs[rest:], &checkingCheckpointer{t: t, p: pb.(*processor)})
			for g := range groups {
				g := fmt.Sprint("g", g)
				got, _ := restored.Query(ctx, g, time.Time{})
				want, _ := orig.Query(ctx, g, time.Time{})
				if len(got) == 0 {
					t.Fatalf("state %d: the restored processor wrote no window of %s", i, g)
				}
				// The original's windows from the first one the
				// restored processor wrote.
				from := slices.IndexFunc(want, func(s sink.Snapshot) bool { return s.Time.Equal(got[0].Time) })
				if from < 0 {
					t.Fatalf("state %d: restored window %v not written by the original", i, got[0].Time)
				}
				if diff := cmp.Diff(want[from:], got); diff != "" {
					t.Fatalf("state %d, group %s: restored snapshots differ (-original +restored):\n%s", i, g, diff)
				}
			}
		}
	}
}

// Consecutive saves hold each closed pane in the same bytes, so a store that
// writes only what changed writes the new pane: the panes two states share
// decode from identical encodings, and each appears in both states whole.
func TestPanesStableAcrossSaves(t *testing.T) {
	for _, capacity := range []int{0, 32} {
		t.Run(fmt.Sprint("capacity=", capacity), func(t *testing.T) { testPanesStableAcrossSaves(t, capacity) })
	}
}

func testPanesStableAcrossSaves(t *testing.T, capacity int) {
	recs := paneRecords(7, 4000, 5000, false) // more keys than the capacity
	out, _ := sink.NewMemory()
	a := paneAggregator(t, out, capacity)
	p := a.NewProcessor("s")
	if err := p.Initialize(context.Background(), source.InitInput{ShardID: "s", Start: source.Position{Type: source.TrimHorizon}}); err != nil {
		t.Fatal(err)
	}
	cp := &savingCheckpointer{}
	process(t, p, recs, cp)
	shared := 0
	for i := 1; i < len(cp.states); i++ {
		prev, err := decodeState(cp.states[i-1])
		if err != nil {
			t.Fatal(err)
		}
		cur, err := decodeState(cp.states[i])
		if err != nil {
			t.Fatal(err)
		}
		for g, ps := range cur.panes {
			before := prev.panes[g]
			if before == nil || len(before.closed) == 0 {
				continue
			}
			// The newest pane of the save before may have grown since.
			newest := slices.Max(slices.Collect(maps.Keys(before.closed)))
			for b, enc := range ps.closed {
				old, ok := before.closed[b]
				if !ok || b == newest {
					continue
				}
				shared++
				if !bytes.Equal(old, enc) || !bytes.Contains(cp.states[i], enc) {
					t.Fatalf("state %d, group %s: pane %d changed between saves, or is not whole in the state", i, g, b)
				}
			}
		}
	}
	if shared < len(cp.states) {
		t.Fatalf("%d panes shared over %d saves; the test compared too little", shared, len(cp.states))
	}
}

// encodeV1 writes st in the version 1 layout, every window whole, as the
// processors before panes saved it.
func encodeV1(t *testing.T, st state) []byte {
	t.Helper()
	b := []byte{stateVersionV1, flagStarted | flagSketch}
	if st.exact {
		b[1] |= flagExact
	}
	b = appendVarint(b, st.cur)
	b = appendVarint(b, st.firstEnd)
	b = appendString(b, st.applied.Number)
	b = appendVarint(b, st.applied.Sub)
	groups := slices.Sorted(maps.Keys(st.windows))
	b = appendUvarint(b, uint64(len(groups)))
	for _, g := range groups {
		w, err := st.windows[g].(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b = appendString(b, g)
		b = appendString(b, string(w))
	}
	return b
}

// A version 1 state, its Sketches saved whole, still restores: the
// restored processor writes the original's snapshots, saves its windows
// whole while they hold buckets from before the restore, and as panes once
// they have passed them.
func TestPanesFromVersion1State(t *testing.T) {
	recs := paneRecords(11, 3000, 64, true)
	ctx := context.Background()
	orig, _ := sink.NewMemory()
	pa := paneAggregator(t, orig, 64).NewProcessor("s")
	if err := pa.Initialize(ctx, source.InitInput{ShardID: "s", Start: source.Position{Type: source.TrimHorizon}}); err != nil {
		t.Fatal(err)
	}
	cp := &savingCheckpointer{}
	process(t, pa, recs, cp)
	i := len(cp.states) / 3
	st, err := decodeState(cp.states[i])
	if err != nil {
		t.Fatal(err)
	}
	restored, _ := sink.NewMemory()
	pb := paneAggregator(t, restored, 64).NewProcessor("s")
	at := cp.at[i]
	if err := pb.Initialize(ctx, source.InitInput{ShardID: "s", State: encodeV1(t, st),
		Start: source.Position{Type: source.AfterSequence, SequenceNumber: at.Number}}); err != nil {
		t.Fatal(err)
	}
	rest := slices.IndexFunc(recs, func(r source.Record) bool { return r.Sequence().Compare(at) > 0 })
	cpb := &savingCheckpointer{}
	process(t, pb, recs[rest:], cpb)
	for g := range groups {
		g := fmt.Sprint("g", g)
		got, _ := restored.Query(ctx, g, time.Time{})
		want, _ := orig.Query(ctx, g, time.Time{})
		from := slices.IndexFunc(want, func(s sink.Snapshot) bool { return len(got) > 0 && s.Time.Equal(got[0].Time) })
		if from < 0 {
			t.Fatalf("group %s: the restored processor's windows are not the original's", g)
		}
		if diff := cmp.Diff(want[from:], got); diff != "" {
			t.Fatalf("group %s: restored snapshots differ (-original +restored):\n%s", g, diff)
		}
	}
	first, err := decodeState(cpb.states[0])
	if err != nil {
		t.Fatal(err)
	}
	last, err := decodeState(cpb.states[len(cpb.states)-1])
	if err != nil {
		t.Fatal(err)
	}
	for g := range first.panes {
		if !first.panes[g].legacy {
			t.Errorf("group %s: the first save after a version 1 restore holds panes it never took", g)
		}
	}
	for g, ps := range last.panes {
		if ps.legacy || len(ps.closed) == 0 {
			t.Errorf("group %s: the last save, a window on, is still whole", g)
		}
	}
}

// boundedCheckpointer refuses states over max bytes, as a lease item does.
type boundedCheckpointer struct {
	savingCheckpointer
	max int
}

func (c *boundedCheckpointer) CheckpointState(ctx context.Context, at source.Sequence, state []byte) error {
	if len(state) > c.max {
		return fmt.Errorf("%w: %d bytes", checkpoint.ErrStateTooLarge, len(state))
	}
	return c.savingCheckpointer.CheckpointState(ctx, at, state)
}

// Counting exactly, a window whose panes a store refuses as too large is
// saved whole instead, as before panes: every key once, not once per
// bucket. The state still restores.
func TestPanesTooLargeSavedWhole(t *testing.T) {
	// The same 1,000 keys in every bucket: a state over smallState.
	var recs []source.Record
	t0 := time.Unix(1_700_000_000, 0) // date-proof: arrival times are the test's data; no processor idles here
	for b := range 12 {
		for k := range 1000 {
			recs = append(recs, source.Record{Data: fmt.Appendf(nil, "g0/key-%d", k),
				SequenceNumber: fmt.Sprintf("%08d", len(recs)+1), ArrivalTime: t0.Add(time.Duration(b) * time.Second)})
		}
	}
	ctx := context.Background()
	measure := func(capacity int) []byte {
		out, _ := sink.NewMemory()
		p := paneAggregator(t, out, capacity).NewProcessor("s")
		if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: source.Position{Type: source.TrimHorizon}}); err != nil {
			t.Fatal(err)
		}
		cp := &savingCheckpointer{}
		process(t, p, recs, cp)
		return cp.states[len(cp.states)-1]
	}
	panes := measure(0)
	st, err := decodeState(panes)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := encodeState(&st, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) >= len(panes) {
		t.Fatalf("whole %d bytes, panes %d: the test needs the panes larger", len(whole), len(panes))
	}
	out, _ := sink.NewMemory()
	a := paneAggregator(t, out, 0)
	p := a.NewProcessor("s")
	if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: source.Position{Type: source.TrimHorizon}}); err != nil {
		t.Fatal(err)
	}
	cp := &boundedCheckpointer{max: (len(whole) + len(panes)) / 2}
	process(t, p, recs, cp)
	last := cp.states[len(cp.states)-1]
	if last == nil || a.Stats().StateWrites != int64(len(cp.states)) {
		t.Fatalf("%d states saved of %d checkpoints; want every one, whole", a.Stats().StateWrites, len(cp.states))
	}
	got, err := decodeState(last)
	if err != nil {
		t.Fatal(err)
	}
	for g, ps := range got.panes {
		if !ps.legacy {
			t.Errorf("group %s saved as panes over the bound", g)
		}
	}
	t.Logf("panes %d bytes, whole %d, bound %d, last state %d", len(panes), len(whole), cp.max, len(last))
}
