// Package sinktest is the contract suite for a sink: a sink.Writer and the
// sink.Reader that reads back what it wrote. Any sink, in this module or
// outside it, runs it to prove it keeps the rules the aggregate package and
// the visualizer rely on. The in-memory sink and the DynamoDB sink both run
// it; a sink on ClickHouse, Postgres or Redis can run the same.
//
// # What it checks
//
//   - Snapshots round-trip: Group, Time, Window, Host, and Counts in the
//     order written, with their error bounds, extreme values and keys of
//     any text; a whole snapshot (no Shard) reads back Complete.
//   - Writes are idempotent: a snapshot whose Group and Time are stored
//     replaces the stored one (the last in a batch wins), the same instant
//     in another time zone included.
//   - Query returns a group's snapshots from since on, in time order, and
//     nothing of other groups, even of names that are prefixes of it or
//     differ in case; an unknown group is empty, not an error.
//   - Times keep their milliseconds: two snapshots a millisecond apart are
//     two snapshots.
//   - A batch with an invalid snapshot (no Group, a zero Time) fails with
//     sink.ErrInvalidSnapshot and stores nothing; an empty batch is no
//     error; a canceled context fails with context.Canceled.
//   - Slices passed in or handed out are not shared with the sink, and
//     concurrent writers lose nothing.
//   - If the Reader or the Writer is a sink.Lister, Groups lists each group
//     once, in order. Otherwise the Groups subtest is skipped.
//
// RunPartials is the second half of the contract, for sinks that are also
// sink.ProgressWriters: partials of several shards merged on reading, and
// windows judged complete from the shards' progress.
//
// # What it assumes
//
// Only what sink.Writer and sink.Reader promise, and about time only this:
// Time and Window round-trip to the millisecond (a Time that is a whole
// number of milliseconds comes back Equal); finer precision is neither
// required nor checked. The suite reads the wall clock once, when Run
// starts, and stamps every snapshot within a few minutes of it, so a sink
// that expires data by wall clock (a TTL of a few minutes or more) or keeps
// a few minutes of history per group keeps everything the suite writes.
//
// Each subtest asks for a sink and names its groups after itself and a token
// drawn once per run, so one table can serve every subtest and every run of
// the suite (go test -count=N, go test again, on two machines at once)
// without a subtest meeting another's groups; other groups in Groups are ignored. The
// suite does not delete what it writes. Subtests run one after another; one
// writes from several goroutines at once.
//
// # How to call it
//
// From a test in the sink's own package:
//
//	func TestSink(t *testing.T) {
//		sinktest.Run(t, func(t *testing.T) (sink.Writer, sink.Reader) {
//			s := mysink.New(db, "counts") // on a shared table
//			return s, s
//		})
//	}
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/internal/testname"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// Run runs the suite as subtests of t. newSink is called once per subtest
// and returns the sink to test, ready for use: the Writer and the Reader that
// reads what it writes, often one value. It may return the same sink every
// time, or new ones on a shared table, and registers whatever cleanup it
// needs with t.Cleanup. A failing subtest fails t; Run returns when all have
// run.
func Run(t *testing.T, newSink func(t *testing.T) (sink.Writer, sink.Reader)) {
	t.Helper()
	if newSink == nil {
		t.Fatal("sinktest: newSink is nil")
	}
	// The one wall-clock reading in the suite: see the package doc.
	base := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name string
		fn   func(t *testing.T, c suite)
	}{
		{"RoundTrip", testRoundTrip},
		{"Idempotent", testIdempotent},
		{"ReplaceSameTime", testReplaceSameTime},
		{"TimeOrder", testTimeOrder},
		{"Since", testSince},
		{"UnknownGroup", testUnknownGroup},
		{"GroupsAreSeparate", testGroupsAreSeparate},
		{"Counts", testCounts},
		{"MillisecondPrecision", testMillisecondPrecision},
		{"InvalidSnapshot", testInvalidSnapshot},
		{"EmptyWrite", testEmptyWrite},
		{"NoAliasing", testNoAliasing},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Groups", testGroups},
		{"CanceledContext", testCanceledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := newSink(t)
			tt.fn(t, suite{w: w, r: r, base: base})
		})
	}
}

type suite struct {
	w    sink.Writer
	r    sink.Reader
	base time.Time
}

// group returns a group name unique to the running subtest and run (-count).
func group(t *testing.T, name string) string { return testname.Unique(t, name) }

// at is the suite's time plus d.
func (c suite) at(d time.Duration) time.Time { return c.base.Add(d) }

var opts = cmpopts.EquateEmpty()

func (c suite) write(t *testing.T, ss ...sink.Snapshot) {
	t.Helper()
	if err := c.w.Write(t.Context(), ss); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func (c suite) query(t *testing.T, g string, since time.Time) []sink.Snapshot {
	t.Helper()
	got, err := c.r.Query(t.Context(), g, since)
	if err != nil {
		t.Fatalf("Query(%q, %v): %v", g, since, err)
	}
	return got
}

// want checks that the group holds exactly want from since on; the whole
// snapshots among want read back Complete.
func (c suite) want(t *testing.T, g string, since time.Time, want []sink.Snapshot) {
	t.Helper()
	want = slices.Clone(want)
	for i := range want {
		want[i].Complete = want[i].Complete || want[i].Shard == ""
	}
	if d := cmp.Diff(want, c.query(t, g, since), opts); d != "" {
		t.Fatalf("Query(%q, %v) (-want +got):\n%s", g, since.Format(time.RFC3339Nano), d)
	}
}

// snap is a whole snapshot, as written and (Complete) as read back.
func snap(g string, at time.Time, counts ...topk.Entry[string]) sink.Snapshot {
	return sink.Snapshot{Group: g, Time: at, Window: 10 * time.Second, Counts: counts, Host: "host-1", Complete: true}
}

func e(key string, count int64) topk.Entry[string] { return topk.Entry[string]{Key: key, Count: count} }

func testRoundTrip(t *testing.T, c suite) {
	a, b := group(t, "/index.html"), group(t, "/cart.html")
	as := []sink.Snapshot{
		snap(a, c.at(0), e("http://www.amazon.com", 30), e("http://www.google.com", 20)),
		snap(a, c.at(time.Second), e("http://www.google.com", 31), e("http://www.amazon.com", 29)),
	}
	bs := []sink.Snapshot{{Group: b, Time: c.at(time.Second), Window: time.Minute, Host: "host-2",
		Counts: []topk.Entry[string]{{Key: "http://www.bing.com", Count: 5, Err: 2}}}}
	c.write(t, as[0], bs[0])
	c.write(t, as[1])
	c.want(t, a, c.at(-time.Hour), as)
	c.want(t, b, c.at(-time.Hour), bs)
	// The zero time is before everything.
	c.want(t, a, time.Time{}, as)
}

func testIdempotent(t *testing.T, c suite) {
	g := group(t, "/index.html")
	s := snap(g, c.at(0), e("a", 1))
	c.write(t, s, s)
	c.write(t, s)
	// The same instant in another zone is the same snapshot.
	same := s
	same.Time = s.Time.In(time.FixedZone("UTC+5:30", 5*3600+1800))
	c.write(t, same)
	c.want(t, g, time.Time{}, []sink.Snapshot{s})
}

func testReplaceSameTime(t *testing.T, c suite) {
	g := group(t, "/index.html")
	c.write(t, snap(g, c.at(0), e("a", 1)), snap(g, c.at(time.Second), e("a", 2)))
	// A retry after a failover recomputed the window: the newer write wins,
	// within a batch too.
	newer := snap(g, c.at(0), e("b", 7), e("a", 3))
	newer.Host = "host-2"
	c.write(t, snap(g, c.at(0), e("c", 9)), newer)
	c.want(t, g, time.Time{}, []sink.Snapshot{newer, snap(g, c.at(time.Second), e("a", 2))})
}

func testTimeOrder(t *testing.T, c suite) {
	g := group(t, "/index.html")
	offsets := []int{7, 2, 9, 0, 5, 1, 8, 3, 6, 4}
	var want []sink.Snapshot
	for _, o := range offsets {
		c.write(t, snap(g, c.at(time.Duration(o)*time.Second), e("a", int64(o))))
	}
	for o := range len(offsets) {
		want = append(want, snap(g, c.at(time.Duration(o)*time.Second), e("a", int64(o))))
	}
	c.want(t, g, time.Time{}, want)
}

func testSince(t *testing.T, c suite) {
	g := group(t, "/index.html")
	var all []sink.Snapshot
	for i := range 5 {
		all = append(all, snap(g, c.at(time.Duration(i)*1500*time.Millisecond), e("a", int64(i))))
	}
	c.write(t, all...)
	cases := []struct {
		name  string
		since time.Time
		want  []sink.Snapshot
	}{
		{"BeforeAll", c.at(-time.Millisecond), all},
		{"AtFirst", all[0].Time, all},
		{"AtMiddle", all[2].Time, all[2:]},
		{"JustAfterMiddle", all[2].Time.Add(time.Millisecond), all[3:]},
		{"JustBeforeMiddle", all[2].Time.Add(-time.Millisecond), all[2:]},
		{"AtLast", all[4].Time, all[4:]},
		{"AfterAll", all[4].Time.Add(time.Millisecond), nil},
		{"OtherZone", all[3].Time.In(time.FixedZone("UTC-8", -8*3600)), all[3:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { c.want(t, g, tc.since, tc.want) })
	}
}

func testUnknownGroup(t *testing.T, c suite) {
	got, err := c.r.Query(t.Context(), group(t, "never-written"), time.Time{})
	if err != nil || len(got) != 0 {
		t.Fatalf("Query of an unknown group = %v, %v; want empty, nil", got, err)
	}
}

func testGroupsAreSeparate(t *testing.T, c suite) {
	// Names that are prefixes of each other, or differ only in case, must
	// not leak into each other's results.
	names := []string{"/a", "/a/b", "/A", "/a.html", "/a ", "/ä"}
	var want [][]sink.Snapshot
	for i, n := range names {
		s := snap(group(t, n), c.at(time.Duration(i)*time.Second), e(n, int64(i+1)))
		c.write(t, s)
		want = append(want, []sink.Snapshot{s})
	}
	for i, n := range names {
		c.want(t, group(t, n), time.Time{}, want[i])
	}
}

func testCounts(t *testing.T, c suite) {
	many := make([]topk.Entry[string], 200)
	for i := range many {
		many[i] = topk.Entry[string]{Key: fmt.Sprintf("http://www.site-%03d.com/path?q=%d&x=y", i, i), Count: int64(1000 - i), Err: int64(i % 3)}
	}
	cases := []struct {
		name   string
		counts []topk.Entry[string]
	}{
		{"None", nil},
		{"Exact", []topk.Entry[string]{e("http://www.amazon.com", 12), e("http://www.google.com", 12)}},
		{"WithErrorBound", []topk.Entry[string]{{Key: "k1", Count: 90, Err: 10}, {Key: "k2", Count: 80, Err: 80}}},
		{"ZeroAndLarge", []topk.Entry[string]{{Key: "big", Count: math.MaxInt64, Err: math.MaxInt64 - 1}, {Key: "zero", Count: 0}}},
		{"UnusualKeys", []topk.Entry[string]{e("ünïcödé ✓", 3), e("with \"quotes\" and, commas", 2), e(" ", 1)}},
		{"OrderKeptAsWritten", []topk.Entry[string]{e("z", 1), e("a", 5), e("m", 3)}},
		{"Many", many},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := group(t, "g")
			s := sink.Snapshot{Group: g, Time: c.at(time.Duration(i) * time.Second), Window: 1500 * time.Millisecond, Counts: tc.counts, Host: "ip-10-0-0-1.ec2.internal"}
			c.write(t, s)
			c.want(t, g, time.Time{}, []sink.Snapshot{s})
		})
	}
}

func testMillisecondPrecision(t *testing.T, c suite) {
	g := group(t, "/index.html")
	t0 := c.at(0)
	ss := []sink.Snapshot{
		snap(g, t0.Add(1*time.Millisecond), e("a", 1)),
		snap(g, t0.Add(2*time.Millisecond), e("a", 2)),
		snap(g, t0.Add(999*time.Millisecond), e("a", 3)),
		snap(g, t0.Add(time.Second+time.Millisecond), e("a", 4)),
	}
	ss[1].Window = 10*time.Second + 7*time.Millisecond
	c.write(t, ss[3], ss[1], ss[0], ss[2])
	c.want(t, g, time.Time{}, ss)
	c.want(t, g, ss[1].Time, ss[1:])
}

func testInvalidSnapshot(t *testing.T, c suite) {
	cases := []struct {
		name string
		bad  func(g string) sink.Snapshot
	}{
		{"EmptyGroup", func(string) sink.Snapshot { return snap("", c.at(0), e("a", 1)) }},
		{"ZeroTime", func(g string) sink.Snapshot { return snap(g, time.Time{}, e("a", 1)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := group(t, "g")
			good := snap(g, c.at(time.Second), e("a", 1))
			err := c.w.Write(t.Context(), []sink.Snapshot{good, tc.bad(g)})
			if !errors.Is(err, sink.ErrInvalidSnapshot) {
				t.Fatalf("Write: err = %v; want ErrInvalidSnapshot", err)
			}
			c.want(t, g, time.Time{}, nil)
		})
	}
}

func testEmptyWrite(t *testing.T, c suite) {
	for _, batch := range [][]sink.Snapshot{nil, {}} {
		if err := c.w.Write(t.Context(), batch); err != nil {
			t.Fatalf("Write(%v): %v", batch, err)
		}
	}
}

func testNoAliasing(t *testing.T, c suite) {
	g := group(t, "/index.html")
	counts := []topk.Entry[string]{e("a", 2), e("b", 1)}
	c.write(t, snap(g, c.at(0), counts...))
	counts[0].Count = 100 // the caller reuses its buffer

	want := []sink.Snapshot{snap(g, c.at(0), e("a", 2), e("b", 1))}
	got := c.query(t, g, time.Time{})
	if len(got) == 1 && len(got[0].Counts) > 0 {
		got[0].Counts[0].Key = "changed by the reader"
	}
	c.want(t, g, time.Time{}, want)
}

func testConcurrentWriters(t *testing.T, c suite) {
	const writers, each = 4, 10
	g := group(t, "/index.html")
	shared := snap(g, c.at(-time.Second), e("shared", 1))
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				at := c.at(time.Duration(i*writers+w) * time.Millisecond * 10)
				err := c.w.Write(t.Context(), []sink.Snapshot{shared, snap(g, at, e(fmt.Sprint(w), int64(i)))})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Write: %v", err)
	}
	want := []sink.Snapshot{shared}
	for n := range writers * each {
		want = append(want, snap(g, c.at(time.Duration(n)*time.Millisecond*10), e(fmt.Sprint(n%writers), int64(n/writers))))
	}
	c.want(t, g, time.Time{}, want)
}

func testGroups(t *testing.T, c suite) {
	l, ok := c.r.(sink.Lister)
	if !ok {
		if l, ok = c.w.(sink.Lister); !ok {
			t.Skip("sinktest: neither the Writer nor the Reader is a sink.Lister")
		}
	}
	names := []string{"/b", "/a", "/c/d", "/c"}
	for i, n := range names {
		c.write(t, snap(group(t, n), c.at(time.Duration(i)*time.Second), e("a", 1)))
	}
	// A repeated write does not list a group twice.
	c.write(t, snap(group(t, "/a"), c.at(time.Second), e("a", 1)))

	all, err := l.Groups(t.Context())
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if !slices.IsSorted(all) {
		t.Errorf("Groups not in ascending order: %q", all)
	}
	var mine []string
	for _, g := range all {
		if strings.HasPrefix(g, group(t, "")) {
			mine = append(mine, g)
		}
	}
	want := []string{group(t, "/a"), group(t, "/b"), group(t, "/c"), group(t, "/c/d")}
	if d := cmp.Diff(want, mine); d != "" {
		t.Errorf("Groups (-want +got):\n%s", d)
	}
}

func testCanceledContext(t *testing.T, c suite) {
	g := group(t, "/index.html")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.w.Write(ctx, []sink.Snapshot{snap(g, c.at(0), e("a", 1))}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a canceled context: err = %v; want context.Canceled", err)
	}
	if _, err := c.r.Query(ctx, g, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Query with a canceled context: err = %v; want context.Canceled", err)
	}
	c.want(t, g, time.Time{}, nil)
}
