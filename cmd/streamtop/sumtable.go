package main

import (
	"encoding/binary"
	"hash/maphash"
)

// sumTable sums weights by key, for lineCounter's workers: the map from key
// to its sums that the counting of each line looks up.
//
// It is an open-addressing table with linear probing, at most half full,
// whose slots hold the sums and, when the key is at most shortKey bytes
// long (an IP address, a short path), the key itself: finding such a key
// reads one slot, where a Go map from string to sums reads its control word,
// the slot, and the key's bytes elsewhere, and counting lines of 64,816
// distinct addresses spends most of its time waiting for those reads. A
// longer key is kept in long and compared there.
//
// The zero value is an empty table. A sumTable is not safe for concurrent
// use. add costs O(1) on average and allocates only for a new key longer
// than shortKey or when the table grows; each key takes 80 bytes or more.
type sumTable struct {
	seed    maphash.Seed
	slots   []sumSlot // len is 0 or a power of two
	used    int
	long    []string // the keys longer than shortKey
	touched []int32  // slots with records since the last drain
}

const shortKey = 16

type sumSlot struct {
	hash uint32 // the low bits of the key's hash (the high ones place it)
	n    uint32 // the key's length plus one; 0 in an empty slot
	// key is the key if it is at most shortKey bytes long, else its index
	// in long, in the first 4 bytes.
	key     [shortKey]byte
	weight  int64
	records int64
}

// add adds weight and records to key's sums.
func (t *sumTable) add(key []byte, weight, records int64) {
	if 2*(t.used+1) > len(t.slots) {
		t.grow()
	}
	h := maphash.Bytes(t.seed, key)
	tag, n := uint32(h), uint32(len(key))+1
	mask := uint64(len(t.slots) - 1)
	i := (h >> 32) & mask
	for ; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.n == 0 {
			s.hash, s.n = tag, n
			if len(key) <= shortKey {
				copy(s.key[:], key)
			} else {
				binary.LittleEndian.PutUint32(s.key[:], uint32(len(t.long)))
				t.long = append(t.long, string(key))
			}
			t.used++
			break
		}
		if s.hash == tag && s.n == n && t.equal(s, key) {
			break
		}
	}
	s := &t.slots[i]
	if s.records == 0 {
		t.touched = append(t.touched, int32(i))
	}
	s.weight += weight
	s.records += records
}

func (t *sumTable) equal(s *sumSlot, key []byte) bool {
	if len(key) <= shortKey {
		return string(s.key[:len(key)]) == string(key)
	}
	return t.long[binary.LittleEndian.Uint32(s.key[:])] == string(key)
}

// keyOf returns the key of the slot s.
func (t *sumTable) keyOf(s *sumSlot) string {
	if s.n-1 <= shortKey {
		return string(s.key[:s.n-1])
	}
	return t.long[binary.LittleEndian.Uint32(s.key[:])]
}

// grow doubles the slots (makes the first ones) and places the keys again.
func (t *sumTable) grow() {
	if len(t.slots) == 0 {
		t.seed = maphash.MakeSeed()
	}
	old := t.slots
	t.slots = make([]sumSlot, max(64, 2*len(old)))
	// Write every page of the new slots before reading any. Fresh memory
	// from the OS is left unwritten by make; a read maps the shared zero
	// page, and the first write then faults again and flushes the TLB of
	// every CPU running the process. Found with perf: those flushes were
	// a fifth of the time of -once on 2 CPUs, most of it in the probes.
	clear(t.slots)
	mask := uint64(len(t.slots) - 1)
	t.touched = t.touched[:0]
	for j := range old {
		o := &old[j]
		if o.n == 0 {
			continue
		}
		var h uint64
		if o.n-1 <= shortKey {
			h = maphash.Bytes(t.seed, o.key[:o.n-1])
		} else {
			h = maphash.String(t.seed, t.keyOf(o))
		}
		i := (h >> 32) & mask
		for t.slots[i].n != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = *o
		if o.records > 0 {
			t.touched = append(t.touched, int32(i))
		}
	}
}

// drain calls f with each key that has records since the last drain, and
// its sums, then sets them to 0. It allocates each key of up to shortKey
// bytes as a string.
func (t *sumTable) drain(f func(key string, weight, records int64)) {
	for _, i := range t.touched {
		s := &t.slots[i]
		f(t.keyOf(s), s.weight, s.records)
		s.weight, s.records = 0, 0
	}
	t.touched = t.touched[:0]
}

// drainInto drains t into u: it adds each key's sums since the last drain
// to u, and sets them to 0 in t.
func (t *sumTable) drainInto(u *sumTable) {
	for _, i := range t.touched {
		s := &t.slots[i]
		if s.n-1 <= shortKey {
			u.add(s.key[:s.n-1], s.weight, s.records)
		} else {
			u.add([]byte(t.keyOf(s)), s.weight, s.records)
		}
		s.weight, s.records = 0, 0
	}
	t.touched = t.touched[:0]
}

// len returns the number of keys held.
func (t *sumTable) len() int { return t.used }

// reset forgets every key; it keeps the slots, which stay as large.
func (t *sumTable) reset() {
	clear(t.slots)
	clear(t.long)
	t.long, t.touched, t.used = t.long[:0], t.touched[:0], 0
}
