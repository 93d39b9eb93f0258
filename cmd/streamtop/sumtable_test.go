package main

import (
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// sumTable sums as a Go map does, through growth, drains (into a function
// or another table) and resets, for keys on both sides of shortKey.
func TestSumTableAsMap(t *testing.T) {
	type sums struct{ Weight, Records int64 }
	rapid.Check(t, func(t *rapid.T) {
		var tab sumTable
		want := map[string]sums{} // since the last drain
		held := map[string]bool{} // since the last reset
		for range rapid.IntRange(0, 3000).Draw(t, "ops") {
			switch rapid.IntRange(0, 99).Draw(t, "op") {
			case 0, 1:
				got := map[string]sums{}
				tab.drain(func(key string, weight, records int64) {
					if _, dup := got[key]; dup {
						t.Fatalf("drain gave %q twice", key)
					}
					got[key] = sums{weight, records}
				})
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Fatalf("drain (-want +got):\n%s", diff)
				}
				clear(want)
			case 2:
				// Drained into another table, the same sums come out of it.
				var into sumTable
				into.add([]byte("held before"), 1, 1)
				tab.drainInto(&into)
				want["held before"] = sums{want["held before"].Weight + 1, want["held before"].Records + 1}
				got := map[string]sums{}
				into.drain(func(key string, weight, records int64) { got[key] = sums{weight, records} })
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Fatalf("drainInto (-want +got):\n%s", diff)
				}
				clear(want)
			case 3:
				tab.reset()
				clear(want)
				clear(held)
			default:
				n := rapid.IntRange(0, 40).Draw(t, "length")
				key := strings.Repeat("k", n) + string(rune('a'+rapid.IntRange(0, 600).Draw(t, "key")%26)) + strings.Repeat("x", rapid.IntRange(0, 2).Draw(t, "pad"))
				w := int64(rapid.IntRange(0, 5).Draw(t, "weight"))
				tab.add([]byte(key), w, 1)
				s := want[key]
				want[key] = sums{s.Weight + w, s.Records + 1}
				held[key] = true
			}
			if tab.len() != len(held) {
				t.Fatalf("len %d, want %d", tab.len(), len(held))
			}
		}
	})
}
