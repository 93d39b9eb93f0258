package window

import (
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// find is the lookup Counter does, with ids standing in for keys.
func (x *counterIndex) find(hash uint32, id int32) bool {
	mask := uint32(len(x.slots) - 1)
	for i := hash & mask; x.slots[i].id1 != 0; i = (i + 1) & mask {
		if x.slots[i] == (indexSlot{hash: hash, id1: id + 1}) {
			return true
		}
	}
	return false
}

func TestCounterIndexMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		x := newCounterIndex()
		model := map[int32]uint32{} // id -> hash
		next := int32(0)
		// Hashes from a narrow range share home slots, and some sit at the
		// table's end, so probes run long and wrap around.
		hashes := rapid.SampledFrom([]uint32{0, 1, 2, 14, 15, 31, 1 << 31, 1<<32 - 1})
		t.Repeat(map[string]func(*rapid.T){
			"insert": func(t *rapid.T) {
				h := hashes.Draw(t, "hash")
				x.insert(h, next)
				model[next] = h
				next++
			},
			"remove": func(t *rapid.T) {
				if len(model) == 0 {
					t.Skip("empty")
				}
				// Sorted, so that a failing case replays the same removals.
				id := rapid.SampledFrom(slices.Sorted(maps.Keys(model))).Draw(t, "id")
				x.remove(model[id], id)
				delete(model, id)
			},
			"": func(t *rapid.T) {
				if x.used != len(model) {
					t.Fatalf("used = %d, want %d", x.used, len(model))
				}
				for id, h := range model {
					if !x.find(h, id) {
						t.Fatalf("id %d (hash %x) cannot be found", id, h)
					}
				}
				n := 0
				for _, s := range x.slots {
					if s.id1 != 0 {
						n++
						if h, ok := model[s.id1-1]; !ok || h != s.hash {
							t.Fatalf("slot holds id %d under %x, which the model does not", s.id1-1, s.hash)
						}
					}
				}
				if n != len(model) {
					t.Fatalf("%d slots in use, want %d", n, len(model))
				}
			},
		})
	})
}
