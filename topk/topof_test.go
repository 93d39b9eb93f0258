package topk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// TestTopOf checks TopOf over one to three summaries of different
// capacities against the exact counts of the union of their streams: every
// bound, the error limit N/c for the smallest capacity c, the heavy keys, the
// order, and that a shorter answer is a prefix of a longer one.
func TestTopOf(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 60
		n := rapid.IntRange(1, 3).Draw(t, "summaries")
		var parts []*SpaceSaving[int]
		var streams [][]weighted
		c := 0
		for i := range n {
			capacity := rapid.IntRange(1, 16).Draw(t, "capacity")
			stream := streamGen(maxKeys).Draw(t, "stream")
			parts = append(parts, feed(t, capacity, stream))
			streams = append(streams, stream)
			if i == 0 || capacity < c {
				c = capacity
			}
		}
		if rapid.Bool().Draw(t, "withNil") {
			parts = append(parts, nil)
		}
		tr := exactOf(streams...)

		all := TopOf(3*16, parts...)
		union := map[int]bool{}
		for _, p := range parts {
			if p == nil {
				continue
			}
			for e := range p.All() {
				union[e.Key] = true
			}
		}
		if len(all) != len(union) {
			t.Fatalf("TopOf(all) has %d entries, the summaries monitor %d keys", len(all), len(union))
		}
		inTop := map[int]bool{}
		for i, e := range TopOf(c, parts...) {
			inTop[e.Key] = true
			if diff := cmp.Diff(all[i], e); diff != "" {
				t.Fatalf("TopOf(%d) is not a prefix of TopOf(all) at %d (-all +short):\n%s", c, i, diff)
			}
		}
		for i, e := range all {
			if i > 0 && rank(all[i-1], e) > 0 {
				t.Fatalf("out of order at %d: %+v then %+v", i, all[i-1], e)
			}
			want := tr.counts.Count(e.Key)
			if e.Count-e.Err > want || want > e.Count {
				t.Fatalf("key %d: true count %d outside [%d-%d, %d]", e.Key, want, e.Count, e.Err, e.Count)
			}
			if e.Err < 0 || e.Err*int64(c) > tr.total {
				t.Fatalf("key %d: err %d exceeds N/c = %d/%d", e.Key, e.Err, tr.total, c)
			}
		}
		for key := range maxKeys {
			if want := tr.counts.Count(key); want*int64(c) > tr.total && !inTop[key] {
				t.Fatalf("key %d: true count %d > N/c = %d/%d but not in TopOf(%d)", key, want, tr.total, c, c)
			}
		}
	})
}

// TestTopOfMatchesMerge checks that TopOf of two summaries of one capacity
// chooses as Merge would: every key Merge keeps is offered with the same
// lower bound and an upper bound no larger than Merge's.
func TestTopOfMatchesMerge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxKeys = 60
		capacity := rapid.IntRange(1, 16).Draw(t, "capacity")
		a := feed(t, capacity, streamGen(maxKeys).Draw(t, "a"))
		b := feed(t, capacity, streamGen(maxKeys).Draw(t, "b"))
		all := map[int]Entry[int]{}
		for _, e := range TopOf(2*capacity, a, b) {
			all[e.Key] = e
		}
		m := a.clone()
		if err := m.Merge(b); err != nil {
			t.Fatal(err)
		}
		for _, e := range m.Top(capacity) {
			got, ok := all[e.Key]
			switch {
			case !ok:
				t.Fatalf("Merge keeps %+v, TopOf does not offer it", e)
			case got.Count-got.Err != e.Count-e.Err || got.Count > e.Count:
				t.Fatalf("key %d: TopOf %+v, Merge %+v", e.Key, got, e)
			}
		}
	})
}

func TestTopOfEmpty(t *testing.T) {
	empty, _ := NewSpaceSaving[string](4)
	one, _ := NewSpaceSaving[string](4)
	one.Add("a", 2)
	for _, tc := range []struct {
		name  string
		k     int
		parts []*SpaceSaving[string]
		want  []Entry[string]
	}{
		{"no summaries", 3, nil, nil},
		{"nil and empty", 3, []*SpaceSaving[string]{nil, empty}, nil},
		{"k = 0", 0, []*SpaceSaving[string]{one}, nil},
		{"k < 0", -1, []*SpaceSaving[string]{one}, nil},
		{"one key", 3, []*SpaceSaving[string]{empty, one, nil}, []Entry[string]{{Key: "a", Count: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, TopOf(tc.k, tc.parts...), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("TopOf (-want +got):\n%s", diff)
			}
		})
	}
}
