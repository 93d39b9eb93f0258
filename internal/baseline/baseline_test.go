package baseline

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/topk"
)

// modelTop is the reference every baseline's Top is held to: the counts
// sorted by topk's order, cut at k.
func modelTop(counts map[string]int64, k int) []topk.Entry[string] {
	var all []topk.Entry[string]
	for key, c := range counts {
		if c != 0 {
			all = append(all, topk.Entry[string]{Key: key, Count: c})
		}
	}
	slices.SortFunc(all, compareEntries[string])
	if k <= 0 || len(all) == 0 {
		return nil
	}
	return all[:min(k, len(all))]
}

func TestMapMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var m Map[string]
		model := map[string]int64{}
		keys := rapid.SliceOfNDistinct(rapid.StringN(1, 3, 3), 1, 8, rapid.ID).Draw(t, "keys")
		for range rapid.IntRange(0, 200).Draw(t, "adds") {
			key := rapid.SampledFrom(keys).Draw(t, "key")
			n := rapid.Int64Range(-3, 5).Draw(t, "n")
			m.Add(key, n)
			model[key] += n
		}
		live := 0
		for _, key := range keys {
			if m.Count(key) != model[key] {
				t.Fatalf("Count(%q) = %d, model %d", key, m.Count(key), model[key])
			}
			if model[key] != 0 {
				live++
			}
		}
		if m.Len() != live {
			t.Fatalf("Len = %d, model %d", m.Len(), live)
		}
		k := rapid.IntRange(-1, 10).Draw(t, "k")
		if d := cmp.Diff(modelTop(model, k), m.Top(k)); d != "" {
			t.Fatalf("Top(%d) (-model +got):\n%s", k, d)
		}
	})
}

// TestRingMatchesModel holds Ring to the definition of the window: the
// buckets (newest-n, newest], newest the bucket of the latest time seen, and
// a record counted only if its bucket was in the window when it came.
func TestRingMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const bucket = 10 * time.Millisecond
		nb := rapid.IntRange(1, 5).Draw(t, "buckets")
		r, err := NewRing[string](time.Duration(nb)*bucket, bucket)
		if err != nil {
			t.Fatal(err)
		}
		type event struct {
			key string
			b   int64
			n   int64
		}
		var events []event
		newest, started := int64(0), false
		t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
		keys := []string{"a", "b", "c", "d"}
		at := int64(0) // ms since t0, may step back
		for range rapid.IntRange(0, 150).Draw(t, "steps") {
			at += rapid.Int64Range(-30, 25).Draw(t, "dt")
			tm := t0.Add(time.Duration(at) * time.Millisecond)
			b := tm.UnixNano() / int64(bucket)
			if rapid.IntRange(0, 9).Draw(t, "op") == 0 {
				r.Advance(tm)
			} else {
				key := rapid.SampledFrom(keys).Draw(t, "key")
				n := rapid.Int64Range(-2, 4).Draw(t, "n")
				got := r.Add(key, tm, n)
				if !started || b > newest {
					newest, started = b, true
				}
				want := b > newest-int64(nb)
				if got != want {
					t.Fatalf("Add at bucket %d (newest %d) = %v, want %v", b, newest, got, want)
				}
				if want {
					events = append(events, event{key, b, n})
				}
				continue
			}
			if !started || b > newest {
				newest, started = b, true
			}
		}
		model := map[string]int64{}
		var total int64
		for _, e := range events {
			if e.b > newest-int64(nb) {
				model[e.key] += e.n
				total += e.n
			}
		}
		for _, key := range keys {
			if r.Count(key) != model[key] {
				t.Fatalf("Count(%q) = %d, model %d", key, r.Count(key), model[key])
			}
		}
		if r.Total() != total {
			t.Fatalf("Total = %d, model %d", r.Total(), total)
		}
		if d := cmp.Diff(modelTop(model, len(keys)), r.Top(len(keys))); d != "" {
			t.Fatalf("Top (-model +got):\n%s", d)
		}
		if want := len(modelTop(model, len(keys))); r.Len() != want {
			t.Fatalf("Len = %d, model %d", r.Len(), want)
		}
	})
}

// TestSpaceSavingBounds checks the paper's guarantees against exact counts.
func TestSpaceSavingBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 8).Draw(t, "capacity")
		s, err := NewSpaceSaving[string](capacity)
		if err != nil {
			t.Fatal(err)
		}
		exact := map[string]int64{}
		var n int64
		nkeys := rapid.IntRange(1, 20).Draw(t, "distinct")
		for range rapid.IntRange(0, 300).Draw(t, "adds") {
			key := fmt.Sprint(rapid.IntRange(0, nkeys-1).Draw(t, "key"))
			w := rapid.Int64Range(-1, 4).Draw(t, "n")
			s.Add(key, w)
			if w > 0 {
				exact[key] += w
				n += w
			}
		}
		if s.Len() > capacity {
			t.Fatalf("Len %d > capacity %d", s.Len(), capacity)
		}
		monitored := map[string]bool{}
		for _, e := range s.Top(capacity) {
			monitored[e.Key] = true
		}
		for key := range nkeys {
			k := fmt.Sprint(key)
			c, e := s.Count(k)
			truth := exact[k]
			if truth < c-e || truth > c {
				t.Fatalf("key %s: true %d not in [%d, %d]", k, truth, c-e, c)
			}
			if e*int64(capacity) > n {
				t.Fatalf("key %s: err %d > N/capacity = %d/%d", k, e, n, capacity)
			}
			if truth*int64(capacity) > n && !monitored[k] {
				t.Fatalf("key %s with %d > N/capacity = %d/%d is not monitored", k, truth, n, capacity)
			}
			if len(exact) <= capacity && monitored[k] && (c != truth || e != 0) {
				t.Fatalf("key %s: (%d, %d) with only %d distinct keys, want exact %d", k, c, e, len(exact), truth)
			}
		}
	})
}

func TestSpaceSavingTopOrder(t *testing.T) {
	s, _ := NewSpaceSaving[string](3)
	for _, k := range []string{"b", "a", "c", "a", "b", "a"} {
		s.Add(k, 1)
	}
	want := []topk.Entry[string]{{Key: "a", Count: 3}, {Key: "b", Count: 2}}
	if d := cmp.Diff(want, s.Top(2)); d != "" {
		t.Fatalf("Top(2) (-want +got):\n%s", d)
	}
	if s.Top(0) != nil {
		t.Fatal("Top(0) is not nil")
	}
}

func TestConstructorErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"ring zero bucket", func() error { _, err := NewRing[string](time.Second, 0); return err }()},
		{"ring zero size", func() error { _, err := NewRing[string](0, time.Second); return err }()},
		{"ring negative size", func() error { _, err := NewRing[string](-time.Second, time.Second); return err }()},
		{"ring size not a multiple", func() error { _, err := NewRing[string](1500*time.Millisecond, time.Second); return err }()},
		{"spacesaving zero", func() error { _, err := NewSpaceSaving[string](0); return err }()},
		{"spacesaving negative", func() error { _, err := NewSpaceSaving[string](-1); return err }()},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalidOption) {
			t.Errorf("%s: error %v does not wrap ErrInvalidOption", tt.name, tt.err)
		}
	}
}
