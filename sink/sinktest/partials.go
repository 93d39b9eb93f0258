package sinktest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// Sink is what RunPartials tests: a ProgressWriter and the Reader that reads
// what it writes, often one value.
type Sink interface {
	sink.ProgressWriter
	sink.Reader
}

// RunPartials runs the suite of partials and progress as subtests of t: the
// rules a sink keeps for package aggregate's per-shard writers (see the
// package doc of sink).
//
//   - Partials of different shards for one window are merged into one
//     snapshot: counts summed, Floors summed, and a key a partial does not
//     list bounded by that partial's Floor.
//   - A partial written again by its shard replaces the earlier one.
//   - A window is Complete only once shards covering the whole hash key
//     space have written through it, followed through a split and a merge;
//     QueryComplete leaves the others out.
//   - Progress never moves back, and Ended stays set.
//   - A complete window no shard wrote a partial for reads back as a
//     snapshot of zero counts.
//
// A sink keeps progress per shard whatever the group, so newSink must
// return, for each subtest, a sink that holds no progress yet: a new one, or
// one on a new table.
func RunPartials(t *testing.T, newSink func(t *testing.T) Sink) {
	t.Helper()
	if newSink == nil {
		t.Fatal("sinktest: newSink is nil")
	}
	base := time.Now().UTC().Truncate(time.Second) // see the package doc
	tests := []struct {
		name string
		fn   func(t *testing.T, s Sink, at func(seconds int) time.Time)
	}{
		{"Merge", testMerge},
		{"Rewrite", testRewrite},
		{"Complete", testComplete},
		{"Reshard", testReshard},
		{"ProgressForward", testProgressForward},
		{"ZeroWindows", testZeroWindows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
			tt.fn(t, newSink(t), at)
		})
	}
}

// Hash key ranges: the whole space, and its halves and quarters.
const (
	keyMax  = "340282366920938463463374607431768211455"
	keyHalf = "170141183460469231731687303715884105727"
	keyQtr  = "85070591730234615865843651857942052863"
)

func partial(g, shard string, at time.Time, floor int64, counts ...topk.Entry[string]) sink.Snapshot {
	return sink.Snapshot{Group: g, Time: at, Window: 10 * time.Second, Counts: counts, Host: "h-" + shard, Shard: shard, Floor: floor}
}

func progress(shard, lo, hi string, through time.Time, parents ...string) sink.Progress {
	return sink.Progress{Shard: shard, Parents: parents, HashKeyStart: lo, HashKeyEnd: hi, Bucket: time.Second, Through: through, Host: "h-" + shard}
}

func writeAll(t *testing.T, s Sink, snaps ...sink.Snapshot) {
	t.Helper()
	if err := s.Write(t.Context(), snaps); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func advance(t *testing.T, s Sink, ps ...sink.Progress) {
	t.Helper()
	for _, p := range ps {
		if err := s.WriteProgress(t.Context(), p); err != nil {
			t.Fatalf("WriteProgress(%s): %v", p.Shard, err)
		}
	}
}

func queryAll(t *testing.T, s Sink, g string) []sink.Snapshot {
	t.Helper()
	got, err := s.Query(t.Context(), g, time.Time{})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	return got
}

// completeAt returns the times of the complete windows in snaps.
func completeAt(snaps []sink.Snapshot) []time.Time {
	var out []time.Time
	for _, s := range snaps {
		if s.Complete {
			out = append(out, s.Time)
		}
	}
	return out
}

func testMerge(t *testing.T, s Sink, at func(int) time.Time) {
	g := group(t, "/index.html")
	writeAll(t, s,
		partial(g, "shard-a", at(1), 4, e("x", 10), e("y", 6)),
		partial(g, "shard-b", at(1), 0, e("x", 3), e("z", 2)))
	want := []sink.Snapshot{{Group: g, Time: at(1), Window: 10 * time.Second, Host: "h-shard-a,h-shard-b", Floor: 4,
		Counts: []topk.Entry[string]{
			{Key: "x", Count: 13},
			{Key: "y", Count: 6},
			// z is not listed by shard-a, where it may have up to 4.
			{Key: "z", Count: 6, Err: 4},
		}}}
	if d := cmp.Diff(want, queryAll(t, s, g), opts); d != "" {
		t.Fatalf("merged partials (-want +got):\n%s", d)
	}
}

func testRewrite(t *testing.T, s Sink, at func(int) time.Time) {
	g := group(t, "/index.html")
	writeAll(t, s, partial(g, "shard-a", at(1), 0, e("x", 10)), partial(g, "shard-b", at(1), 0, e("x", 1)))
	writeAll(t, s, partial(g, "shard-a", at(1), 0, e("x", 7)))
	got := queryAll(t, s, g)
	if len(got) != 1 || len(got[0].Counts) != 1 || got[0].Counts[0].Count != 8 {
		t.Fatalf("after shard-a rewrote its partial, got %+v; want x at 7+1", got)
	}
}

func testComplete(t *testing.T, s Sink, at func(int) time.Time) {
	g := group(t, "/index.html")
	writeAll(t, s,
		partial(g, "shard-a", at(1), 0, e("x", 1)), partial(g, "shard-b", at(1), 0, e("x", 1)),
		partial(g, "shard-a", at(2), 0, e("x", 1)), partial(g, "shard-b", at(2), 0, e("x", 1)))
	if c := completeAt(queryAll(t, s, g)); len(c) != 0 {
		t.Fatalf("complete at %v with no progress written", c)
	}
	advance(t, s, progress("shard-a", "0", keyHalf, at(2)))
	if c := completeAt(queryAll(t, s, g)); len(c) != 0 {
		t.Fatalf("complete at %v with half the hash key space unaccounted for", c)
	}
	advance(t, s, progress("shard-b", "170141183460469231731687303715884105728", keyMax, at(1)))
	if d := cmp.Diff([]time.Time{at(1)}, completeAt(queryAll(t, s, g))); d != "" {
		t.Fatalf("complete windows (-want +got):\n%s", d)
	}
	got, err := sink.QueryComplete(t.Context(), s, g, time.Time{})
	if err != nil || len(got) != 1 || !got[0].Time.Equal(at(1)) {
		t.Fatalf("QueryComplete = %+v, %v; want the window at %v only", got, err, at(1))
	}
}

func testReshard(t *testing.T, s Sink, at func(int) time.Time) {
	g := group(t, "/index.html")
	lo := "170141183460469231731687303715884105728"
	// a is split at 10 s into a1 and a2, which merge at 20 s into m.
	a := progress("a", "0", keyHalf, at(9))
	a.Ended = true
	b := progress("b", lo, keyMax, at(30))
	a1 := progress("a1", "0", keyQtr, at(19), "a")
	a1.Ended = true
	a2 := progress("a2", "85070591730234615865843651857942052864", keyHalf, at(19), "a")
	a2.Ended = true
	m := progress("m", "0", keyHalf, at(30), "a1", "a2")
	for sec := 1; sec <= 30; sec++ {
		writeAll(t, s, partial(g, "b", at(sec), 0, e("x", 1)))
	}
	advance(t, s, a, b)
	if c := completeAt(queryAll(t, s, g)); len(c) != 9 {
		t.Fatalf("complete at %v; want through 9 s only, while a's children are unknown", c)
	}
	advance(t, s, a1)
	if c := completeAt(queryAll(t, s, g)); len(c) != 9 {
		t.Fatalf("complete at %v; want through 9 s only, while a2 is unknown", c)
	}
	advance(t, s, a2)
	if c := completeAt(queryAll(t, s, g)); len(c) != 19 {
		t.Fatalf("complete at %v; want through 19 s, while the merge's child m is unknown", c)
	}
	advance(t, s, m)
	if c := completeAt(queryAll(t, s, g)); len(c) != 30 {
		t.Fatalf("complete at %v; want every window through 30 s", c)
	}
}

func testProgressForward(t *testing.T, s Sink, at func(int) time.Time) {
	g := group(t, "/index.html")
	writeAll(t, s, partial(g, "all", at(5), 0, e("x", 1)))
	done := progress("all", "0", keyMax, at(5))
	done.Ended = true
	advance(t, s, done, progress("all", "0", keyMax, at(2)))
	got := queryAll(t, s, g)
	if len(got) != 1 || !got[0].Complete {
		t.Fatalf("got %+v; want the window at 5 s complete after an older progress was written", got)
	}
	// Ended stayed set: the window after Through is waiting for children
	// (none), not for the shard itself.
}

func testZeroWindows(t *testing.T, s Sink, at func(int) time.Time) {
	g := group(t, "/index.html")
	writeAll(t, s, partial(g, "all", at(1), 0, e("x", 1)), partial(g, "all", at(2), 0))
	advance(t, s, progress("all", "0", keyMax, at(5)))
	got := queryAll(t, s, g)
	want := []time.Time{at(1), at(2), at(3), at(4), at(5)}
	if d := cmp.Diff(want, completeAt(got)); d != "" {
		t.Fatalf("complete windows (-want +got):\n%s", d)
	}
	for _, w := range got[1:] {
		if len(w.Counts) != 0 {
			t.Errorf("window at %v: counts %v, want none", w.Time, w.Counts)
		}
	}
}
