package topk

import (
	"cmp"
	"maps"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

func TestExactZeroValue(t *testing.T) {
	var e Exact[string]
	if e.Len() != 0 || e.Count("a") != 0 || e.Top(1) != nil {
		t.Fatalf("zero Exact: Len %d, Count %d, Top %v", e.Len(), e.Count("a"), e.Top(1))
	}
	all := e.All() // made before the Add, ranged after it
	e.Add("a", 2)
	if e.Count("a") != 2 || e.Len() != 1 {
		t.Fatalf("zero Exact after Add: Count %d, Len %d", e.Count("a"), e.Len())
	}
	if got := maps.Collect(all); len(got) != 1 || got["a"] != 2 {
		t.Fatalf("All of a zero Exact after Add yields %v, want map[a:2]", got)
	}
}

func TestExactCounts(t *testing.T) {
	e := NewExact[string]()
	e.Add("a", 3)
	e.Add("b", 3)
	e.Add("c", 1)
	e.Add("c", -1) // back to 0: forgotten
	e.Add("d", -2) // below 0: kept, ranked last
	e.Add("e", 0)  // nothing
	want := []Entry[string]{{Key: "a", Count: 3}, {Key: "b", Count: 3}, {Key: "d", Count: -2}}
	tests := []struct {
		k    int
		want []Entry[string]
	}{
		{-1, nil},
		{0, nil},
		{1, want[:1]},
		{2, want[:2]},
		{3, want},
		{4, want},
	}
	for _, tt := range tests {
		if diff := gocmp.Diff(tt.want, e.Top(tt.k)); diff != "" {
			t.Errorf("Top(%d) mismatch (-want +got):\n%s", tt.k, diff)
		}
	}
	if e.Len() != 3 || e.Count("c") != 0 || e.Count("d") != -2 || e.Count("e") != 0 {
		t.Errorf("Len %d, Count(c) %d, Count(d) %d, Count(e) %d; want 3, 0, -2, 0", e.Len(), e.Count("c"), e.Count("d"), e.Count("e"))
	}
}

func TestExactNegativeThenPositive(t *testing.T) {
	// A positive Add that brings a negative count back to 0 must forget the
	// key, although positive Adds usually skip that check.
	e := NewExact[string]()
	e.Add("a", -2)
	e.Add("b", 5)
	e.Add("a", 2)
	if e.Len() != 1 || e.Count("a") != 0 {
		t.Fatalf("Len %d, Count(a) %d; want 1, 0", e.Len(), e.Count("a"))
	}
	e.Add("a", 2) // no negative count is left: the quick path again
	if e.Len() != 2 || e.Count("a") != 2 {
		t.Fatalf("Len %d, Count(a) %d; want 2, 2", e.Len(), e.Count("a"))
	}
}

func TestExactAddAllocs(t *testing.T) {
	e := NewExact[string]()
	keys := []string{"a", "b", "c", "d", "e", "f"}
	for _, k := range keys {
		e.Add(k, 1)
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		e.Add(keys[i%len(keys)], 1)
		i++
	}); a != 0 {
		t.Errorf("Add of a known key allocates %v times per call", a)
	}
}

// exactModel is the reference: every Add in a list, a count is their sum.
type exactModel[K cmp.Ordered] struct {
	adds []Entry[K]
}

func (m *exactModel[K]) counts() map[K]int64 {
	counts := map[K]int64{}
	for _, a := range m.adds {
		counts[a.Key] += a.Count
	}
	maps.DeleteFunc(counts, func(_ K, n int64) bool { return n == 0 })
	return counts
}

func (m *exactModel[K]) top(k int) []Entry[K] {
	var all []Entry[K]
	for key, n := range m.counts() {
		all = append(all, Entry[K]{Key: key, Count: n})
	}
	slices.SortFunc(all, func(a, b Entry[K]) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return all[:max(0, min(k, len(all)))]
}

func testExactMatchesModel[K cmp.Ordered](t *testing.T, key *rapid.Generator[K]) {
	rapid.Check(t, func(t *rapid.T) {
		e := NewExact[K]()
		m := &exactModel[K]{}
		var seen []K
		t.Repeat(map[string]func(*rapid.T){
			"Add": func(t *rapid.T) {
				k := key.Draw(t, "key")
				n := rapid.Int64Range(-5, 10).Draw(t, "n")
				e.Add(k, n)
				m.adds = append(m.adds, Entry[K]{Key: k, Count: n})
				seen = append(seen, k)
			},
			"Top": func(t *rapid.T) {
				k := rapid.IntRange(-2, len(seen)+2).Draw(t, "k")
				if diff := gocmp.Diff(m.top(k), e.Top(k), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("Top(%d) mismatch (-want +got):\n%s", k, diff)
				}
			},
			"All": func(t *rapid.T) {
				want := m.counts()
				got := map[K]int64{}
				for k, n := range e.All() {
					if _, twice := got[k]; twice {
						t.Fatalf("All yields %v twice", k)
					}
					got[k] = n
				}
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Fatalf("All mismatch (-want +got):\n%s", diff)
				}
				stop := rapid.IntRange(1, len(want)+1).Draw(t, "stop")
				calls := 0
				e.All()(func(K, int64) bool { calls++; return calls < stop })
				if calls != min(stop, len(want)) {
					t.Fatalf("All of %d keys told to stop at %d yields %d", len(want), stop, calls)
				}
			},
			"": func(t *rapid.T) {
				want := m.counts()
				if e.Len() != len(want) {
					t.Fatalf("Len() = %d, want %d", e.Len(), len(want))
				}
				for _, k := range seen {
					if got := e.Count(k); got != want[k] {
						t.Fatalf("Count(%v) = %d, want %d", k, got, want[k])
					}
				}
			},
		})
	})
}

func TestExactMatchesModel(t *testing.T) {
	t.Run("string", func(t *testing.T) {
		testExactMatchesModel(t, rapid.StringMatching(`[a-e]{0,2}`))
	})
	t.Run("int", func(t *testing.T) {
		testExactMatchesModel(t, rapid.IntRange(-3, 3))
	})
	t.Run("float64", func(t *testing.T) {
		testExactMatchesModel(t, rapid.SampledFrom([]float64{-1.5, 0, 0.25, 2, 1e9}))
	})
}

// TestExactAllWithAdd checks what All promises of an Add from its loop: taking
// back every small count as the loop reaches it leaves the large ones, and no
// key is yielded twice.
func TestExactAllWithAdd(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := NewExact[int]()
		want := map[int]int64{}
		for _, k := range rapid.SliceOf(rapid.IntRange(0, 30)).Draw(t, "keys") {
			e.Add(k, 1)
			want[k]++
		}
		limit := rapid.Int64Range(1, 4).Draw(t, "limit")
		maps.DeleteFunc(want, func(_ int, n int64) bool { return n < limit })
		seen := map[int]bool{}
		for k, n := range e.All() {
			if seen[k] {
				t.Fatalf("All yields %d twice", k)
			}
			seen[k] = true
			if n < limit {
				e.Add(k, -n)
			}
		}
		if diff := gocmp.Diff(want, maps.Collect(e.All()), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("after pruning counts below %d (-want +got):\n%s", limit, diff)
		}
	})
}
