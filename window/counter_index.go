package window

// counterIndex finds a Counter's key ids by hash: an open-addressing table
// with linear probing, at most half full, of (hash, id) slots.
//
// Counter uses it instead of a Go map from key to id because it stores each
// key's hash beside the key, so releasing an id never hashes the key again,
// and growing never rehashes at all: where most keys are counted once and
// expire (the tail of a Zipf stream), a map's delete reads the key's bytes
// and the map's control word, two more cache misses per key. The table also
// takes 8 to 16 bytes a key where a map from string to int32 takes about 40.
//
// The table knows only hashes and ids; Counter compares keys itself, so that
// the comparison is compiled for its key type.
type counterIndex struct {
	slots []indexSlot // len is a power of two
	used  int
}

// indexSlot holds an id plus one, so that the zero slot is empty.
type indexSlot struct {
	hash uint32
	id1  int32
}

const minIndexSlots = 16

func newCounterIndex() counterIndex {
	return counterIndex{slots: make([]indexSlot, minIndexSlots)}
}

// insert adds id, whose key is not in the table, under hash.
func (x *counterIndex) insert(hash uint32, id int32) {
	if 2*(x.used+1) > len(x.slots) {
		x.grow()
	}
	x.put(hash, id+1)
	x.used++
}

func (x *counterIndex) put(hash uint32, id1 int32) {
	mask := uint32(len(x.slots) - 1)
	i := hash & mask
	for x.slots[i].id1 != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = indexSlot{hash: hash, id1: id1}
}

func (x *counterIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, 2*len(old))
	for _, s := range old {
		if s.id1 != 0 {
			x.put(s.hash, s.id1)
		}
	}
}

// remove deletes id, stored under hash, and closes the gap it leaves by
// moving back the entries after it that would no longer be found past it
// (backward-shift deletion: no tombstones, so lookups never slow down).
func (x *counterIndex) remove(hash uint32, id int32) {
	mask := uint32(len(x.slots) - 1)
	i := hash & mask
	for x.slots[i].id1 != id+1 {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].id1 != 0; j = (j + 1) & mask {
		// The entry at j may move back to the hole at i unless its home
		// slot lies cyclically in (i, j]: then i is before its home.
		home := x.slots[j].hash & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = indexSlot{}
	x.used--
}
