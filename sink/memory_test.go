package sink_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/sinktest"
	"github.com/streamtop/streamtop/topk"
)

func TestMemory(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) (sink.Writer, sink.Reader) {
		m, err := sink.NewMemory()
		if err != nil {
			t.Fatal(err)
		}
		return m, m
	})
}

// The suite with a retention short enough to matter, to show its times stay
// within a few minutes as its doc promises.
func TestMemoryShortRetention(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) (sink.Writer, sink.Reader) {
		m, err := sink.NewMemory(sink.WithRetention(5 * time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return m, m
	})
}

func TestNewMemoryInvalid(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			m, err := sink.NewMemory(sink.WithRetention(d))
			if !errors.Is(err, sink.ErrInvalidOption) || m != nil {
				t.Fatalf("NewMemory(WithRetention(%v)) = %v, %v; want nil, ErrInvalidOption", d, m, err)
			}
		})
	}
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// snap is a whole snapshot, as written and (Complete) as read back.
func snap(g string, t time.Time, n int64) sink.Snapshot {
	return sink.Snapshot{Group: g, Time: t, Window: 10 * time.Second, Counts: []topk.Entry[string]{{Key: "k", Count: n}}, Host: "h", Complete: true}
}

func TestMemoryRetention(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		writes [][]sink.Snapshot
		want   map[string][]sink.Snapshot
	}{
		{
			name:   "WithinRetention",
			writes: [][]sink.Snapshot{{snap("a", at(0), 1), snap("a", at(10), 2)}},
			want:   map[string][]sink.Snapshot{"a": {snap("a", at(0), 1), snap("a", at(10), 2)}},
		},
		{
			// Exactly the retention before the newest is still in.
			name:   "Boundary",
			writes: [][]sink.Snapshot{{snap("a", at(0), 1)}, {snap("a", at(1), 2)}, {snap("a", at(11), 3)}},
			want:   map[string][]sink.Snapshot{"a": {snap("a", at(1), 2), snap("a", at(11), 3)}},
		},
		{
			name:   "PerGroup",
			writes: [][]sink.Snapshot{{snap("a", at(0), 1), snap("b", at(0), 1)}, {snap("a", at(30), 2)}},
			want:   map[string][]sink.Snapshot{"a": {snap("a", at(30), 2)}, "b": {snap("b", at(0), 1)}},
		},
		{
			// A late snapshot older than the retention is dropped at once.
			name:   "LateArrival",
			writes: [][]sink.Snapshot{{snap("a", at(30), 1)}, {snap("a", at(5), 2), snap("a", at(25), 3)}},
			want:   map[string][]sink.Snapshot{"a": {snap("a", at(25), 3), snap("a", at(30), 1)}},
		},
		{
			// Judged on data time, so a jump far ahead keeps only itself.
			name:   "JumpAhead",
			writes: [][]sink.Snapshot{{snap("a", at(0), 1), snap("a", at(5), 2)}, {snap("a", at(3600), 3)}},
			want:   map[string][]sink.Snapshot{"a": {snap("a", at(3600), 3)}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sink.NewMemory(sink.WithRetention(10 * time.Second))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.writes {
				if err := m.Write(ctx, w); err != nil {
					t.Fatal(err)
				}
			}
			for g, want := range tc.want {
				got, err := m.Query(ctx, g, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("group %q (-want +got):\n%s", g, d)
				}
			}
		})
	}
}

func TestMemoryDefaultRetention(t *testing.T) {
	ctx := context.Background()
	m, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s <= 700; s++ {
		if err := m.Write(ctx, []sink.Snapshot{snap("a", at(s), int64(s))}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.Query(ctx, "a", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 601 || !got[0].Time.Equal(at(100)) {
		t.Fatalf("kept %d snapshots from %v; want 601 from %v", len(got), got[0].Time, at(100))
	}
}

func TestMemoryLatest(t *testing.T) {
	ctx := context.Background()
	m, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := m.Latest("a"); ok {
		t.Fatalf("Latest of an empty sink = %+v, true", s)
	}
	if err := m.Write(ctx, []sink.Snapshot{snap("a", at(2), 2), snap("a", at(3), 3), snap("a", at(1), 1)}); err != nil {
		t.Fatal(err)
	}
	s, ok := m.Latest("a")
	if d := cmp.Diff(snap("a", at(3), 3), s); !ok || d != "" {
		t.Fatalf("Latest (ok %v) (-want +got):\n%s", ok, d)
	}
	s.Counts[0].Count = 99
	if s, _ := m.Latest("a"); s.Counts[0].Count != 3 {
		t.Fatalf("Latest returned an alias of the stored counts")
	}
}

func TestMemoryReturnsUTC(t *testing.T) {
	ctx := context.Background()
	m, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	local := at(0).In(time.FixedZone("UTC+2", 2*3600))
	if err := m.Write(ctx, []sink.Snapshot{snap("a", local, 1)}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Query(ctx, "a", time.Time{})
	if err != nil || len(got) != 1 {
		t.Fatalf("Query = %v, %v", got, err)
	}
	if got[0].Time != at(0) {
		t.Fatalf("Time = %v; want %v, in UTC", got[0].Time, at(0))
	}
}

// Query hands out counts that share one array; appending to one snapshot's
// counts must not write into the next one's.
func TestMemoryQueryAppendIsolated(t *testing.T) {
	ctx := context.Background()
	m, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Write(ctx, []sink.Snapshot{snap("a", at(0), 1), snap("a", at(1), 2)}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Query(ctx, "a", time.Time{})
	if err != nil || len(got) != 2 {
		t.Fatalf("Query = %v, %v", got, err)
	}
	_ = append(got[0].Counts, topk.Entry[string]{Key: "appended", Count: 9})
	if d := cmp.Diff(snap("a", at(1), 2), got[1]); d != "" {
		t.Fatalf("second snapshot changed by an append to the first (-want +got):\n%s", d)
	}
}

// memModel is the sink contract read literally: a set of snapshots per group
// keyed by instant and shard, trimmed after every write, merged on reading by
// the rule as stated: a partial that does not list a key adds its floor.
type memModel struct {
	retention time.Duration
	groups    map[string]map[int64]map[string]sink.Snapshot
}

func (m *memModel) write(batch []sink.Snapshot) {
	for _, s := range batch {
		if m.groups[s.Group] == nil {
			m.groups[s.Group] = map[int64]map[string]sink.Snapshot{}
		}
		at := s.Time.UnixNano()
		if m.groups[s.Group][at] == nil {
			m.groups[s.Group][at] = map[string]sink.Snapshot{}
		}
		m.groups[s.Group][at][s.Shard] = s
	}
	for _, s := range batch {
		h := m.groups[s.Group]
		newest := slices.Max(slices.Collect(maps.Keys(h)))
		for k := range h {
			if k < newest-int64(m.retention) {
				delete(h, k)
			}
		}
	}
}

func (m *memModel) query(g string, since time.Time) []sink.Snapshot {
	var out []sink.Snapshot
	for _, k := range slices.Sorted(maps.Keys(m.groups[g])) {
		if k >= since.UnixNano() {
			out = append(out, modelMerge(m.groups[g][k]))
		}
	}
	return out
}

// modelMerge merges one window's snapshots, with no progress known: only a
// whole snapshot makes it complete.
func modelMerge(parts map[string]sink.Snapshot) sink.Snapshot {
	if w, ok := parts[""]; ok && len(parts) == 1 {
		w.Complete = true
		return w
	}
	var m sink.Snapshot
	keys := map[string]bool{}
	var hosts []string
	for _, shard := range slices.Sorted(maps.Keys(parts)) {
		p := parts[shard]
		m.Group, m.Time, m.Window = p.Group, p.Time, p.Window
		m.Floor += p.Floor
		m.Complete = m.Complete || shard == ""
		if p.Host != "" && !slices.Contains(hosts, p.Host) {
			hosts = append(hosts, p.Host)
		}
		for _, e := range p.Counts {
			keys[e.Key] = true
		}
	}
	slices.Sort(hosts)
	m.Host = strings.Join(hosts, ",")
	for k := range keys {
		e := topk.Entry[string]{Key: k}
		for _, p := range parts {
			i := slices.IndexFunc(p.Counts, func(e topk.Entry[string]) bool { return e.Key == k })
			if i < 0 {
				e.Count += p.Floor
				e.Err += p.Floor
			} else {
				e.Count += p.Counts[i].Count
				e.Err += p.Counts[i].Err
			}
		}
		m.Counts = append(m.Counts, e)
	}
	slices.SortFunc(m.Counts, func(a, b topk.Entry[string]) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return m
}

func TestMemoryModel(t *testing.T) {
	genGroup := rapid.SampledFrom([]string{"/a", "/b", "/c"})
	genTime := rapid.Custom(func(t *rapid.T) time.Time {
		return t0.Add(time.Duration(rapid.IntRange(0, 60).Draw(t, "ms")) * 250 * time.Millisecond)
	})
	genSnap := rapid.Custom(func(t *rapid.T) sink.Snapshot {
		keys := rapid.SliceOfNDistinct(rapid.StringN(1, 3, 3), 0, 3, rapid.ID).Draw(t, "keys")
		counts := make([]topk.Entry[string], len(keys))
		for i, k := range keys {
			counts[i] = topk.Entry[string]{Key: k, Count: rapid.Int64Range(0, 9).Draw(t, "count"), Err: rapid.Int64Range(0, 2).Draw(t, "err")}
		}
		return sink.Snapshot{
			Group:  genGroup.Draw(t, "group"),
			Time:   genTime.Draw(t, "time"),
			Counts: counts,
			Host:   rapid.SampledFrom([]string{"h1", "h2"}).Draw(t, "host"),
			Shard:  rapid.SampledFrom([]string{"", "", "s1", "s2"}).Draw(t, "shard"),
			Floor:  rapid.Int64Range(0, 3).Draw(t, "floor"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		retention := time.Duration(rapid.IntRange(1, 20).Draw(t, "retention")) * 250 * time.Millisecond
		m, err := sink.NewMemory(sink.WithRetention(retention))
		if err != nil {
			t.Fatal(err)
		}
		model := &memModel{retention: retention, groups: map[string]map[int64]map[string]sink.Snapshot{}}
		t.Repeat(map[string]func(*rapid.T){
			"Write": func(t *rapid.T) {
				batch := rapid.SliceOfN(genSnap, 0, 4).Draw(t, "batch")
				if err := m.Write(ctx, batch); err != nil {
					t.Fatalf("Write: %v", err)
				}
				model.write(batch)
			},
			"Query": func(t *rapid.T) {
				g, since := genGroup.Draw(t, "group"), genTime.Draw(t, "since")
				got, err := m.Query(ctx, g, since)
				if err != nil {
					t.Fatalf("Query: %v", err)
				}
				if d := cmp.Diff(model.query(g, since), got, cmpopts.EquateEmpty()); d != "" {
					t.Fatalf("Query(%q, %v) (-model +memory):\n%s", g, since, d)
				}
			},
			"Latest": func(t *rapid.T) {
				g := genGroup.Draw(t, "group")
				got, ok := m.Latest(g)
				all := model.query(g, time.Time{})
				if ok != (len(all) > 0) {
					t.Fatalf("Latest(%q) ok = %v with %d in the model", g, ok, len(all))
				}
				if ok {
					if d := cmp.Diff(all[len(all)-1], got, cmpopts.EquateEmpty()); d != "" {
						t.Fatalf("Latest(%q) (-model +memory):\n%s", g, d)
					}
				}
			},
			"": func(t *rapid.T) {
				got, err := m.Groups(ctx)
				if err != nil {
					t.Fatalf("Groups: %v", err)
				}
				if d := cmp.Diff(slices.Sorted(maps.Keys(model.groups)), got, cmpopts.EquateEmpty()); d != "" {
					t.Fatalf("Groups (-model +memory):\n%s", d)
				}
			},
		})
	})
}

// BenchmarkMemoryWrite is the consumer's cost per emit: one snapshot of the
// six referrers per group per second, in time order, at steady state (the
// history full, so every write also trims).
func BenchmarkMemoryWrite(b *testing.B) {
	ctx := context.Background()
	m, err := sink.NewMemory()
	if err != nil {
		b.Fatal(err)
	}
	counts := make([]topk.Entry[string], 6)
	for i := range counts {
		counts[i] = topk.Entry[string]{Key: fmt.Sprintf("http://www.site%d.com", i), Count: int64(100 - i)}
	}
	batch := make([]sink.Snapshot, 4)
	groups := make([]string, len(batch))
	for g := range groups {
		groups[g] = fmt.Sprint("/page", g)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for g := range batch {
			batch[g] = sink.Snapshot{Group: groups[g], Time: at(i), Window: 10 * time.Second, Counts: counts}
		}
		if err := m.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/snapshot")
}

// BenchmarkMemoryQuery is the visualizer's chart request: the last 2 minutes
// of one group out of a full 10-minute history.
func BenchmarkMemoryQuery(b *testing.B) {
	ctx := context.Background()
	m, err := sink.NewMemory()
	if err != nil {
		b.Fatal(err)
	}
	counts := make([]topk.Entry[string], 6)
	for i := range counts {
		counts[i] = topk.Entry[string]{Key: fmt.Sprintf("http://www.site%d.com", i), Count: int64(100 - i)}
	}
	for s := range 600 {
		if err := m.Write(ctx, []sink.Snapshot{{Group: "/index.html", Time: at(s), Counts: counts}}); err != nil {
			b.Fatal(err)
		}
	}
	var got []sink.Snapshot
	b.ReportAllocs()
	for b.Loop() {
		if got, err = m.Query(ctx, "/index.html", at(600-120)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(got)), "snapshots/op")
}

func TestMemoryPartials(t *testing.T) {
	sinktest.RunPartials(t, func(t *testing.T) sinktest.Sink {
		m, err := sink.NewMemory()
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

// BenchmarkMemoryQueryPartials is issue 14's read cost: the last 2 minutes
// of one group whose windows 8 shards wrote partials of 10 entries for,
// with every shard's progress through them, so every window is merged and
// judged complete.
func BenchmarkMemoryQueryPartials(b *testing.B) {
	ctx := context.Background()
	m, err := sink.NewMemory()
	if err != nil {
		b.Fatal(err)
	}
	const shards = 8
	step := new(big.Int).Lsh(big.NewInt(1), 125) // 2^128 / 8
	for sh := range shards {
		lo := new(big.Int).Mul(step, big.NewInt(int64(sh)))
		hi := new(big.Int).Sub(new(big.Int).Add(lo, step), big.NewInt(1))
		id := fmt.Sprint("shard-", sh)
		counts := make([]topk.Entry[string], 10)
		for i := range counts {
			counts[i] = topk.Entry[string]{Key: fmt.Sprintf("http://www.site%d.com", (i+sh)%12), Count: int64(100 - i)}
		}
		for s := range 600 {
			if err := m.Write(ctx, []sink.Snapshot{{Group: "/index.html", Time: at(s), Counts: counts, Shard: id, Floor: 90}}); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.WriteProgress(ctx, sink.Progress{Shard: id, HashKeyStart: lo.String(), HashKeyEnd: hi.String(),
			Bucket: time.Second, Through: at(599)}); err != nil {
			b.Fatal(err)
		}
	}
	var got []sink.Snapshot
	b.ReportAllocs()
	for b.Loop() {
		if got, err = m.Query(ctx, "/index.html", at(600-120)); err != nil {
			b.Fatal(err)
		}
	}
	if len(got) != 120 || !got[0].Complete {
		b.Fatalf("%d windows, the first complete: %v; want 120 complete", len(got), len(got) > 0 && got[0].Complete)
	}
	b.ReportMetric(float64(len(got)), "windows/op")
}
