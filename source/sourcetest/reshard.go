package sourcetest

// The subtests of Resharder: splits, merges and the reads across them.

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"testing"

	"github.com/streamtop/streamtop/source"
)

// midpoint returns the hash key that splits a shard's range in two halves.
func midpoint(t *testing.T, sh source.Shard) string {
	lo, hi := hashRange(t, sh)
	mid := new(big.Int).Add(lo, hi)
	mid.Rsh(mid, 1)
	mid.Add(mid, big.NewInt(1))
	return mid.String()
}

// checkKeyOrder asserts that, per partition key, the records read from
// parents then children come in put order.
func checkKeyOrder(t *testing.T, read []source.Record, puts []put) {
	t.Helper()
	want := make(map[string][]string)
	for _, p := range puts {
		want[p.key] = append(want[p.key], p.seq)
	}
	got := make(map[string][]string)
	for _, r := range read {
		got[r.PartitionKey] = append(got[r.PartitionKey], r.SequenceNumber)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("partition key %q read in order %v, want put order %v", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d partition keys, want %d", len(got), len(want))
	}
}

func (s suite) split(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 2)
	rs := resharder(t, st)
	before := s.shards(t, ctx, st)
	var puts []put
	for i, k := range keys(30) {
		puts = append(puts, s.put(t, ctx, st, k, fmt.Sprint("a", i)))
	}
	var parent source.Shard
	for _, sh := range before {
		if parent.ID == "" || sh.ID < parent.ID {
			parent = sh
		}
	}
	mid := midpoint(t, parent)
	if err := rs.SplitShard(ctx, parent.ID, mid); err != nil {
		t.Fatalf("SplitShard(%s, %s): %v", parent.ID, mid, err)
	}
	after := s.shards(t, ctx, st)
	if len(after) != 4 {
		t.Fatalf("after a split of one of 2 shards, %d shards are listed, want 4", len(after))
	}
	p := after[parent.ID]
	if !p.Closed() || p.HashKeyStart != parent.HashKeyStart || p.HashKeyEnd != parent.HashKeyEnd {
		t.Fatalf("split parent is listed as %+v, want closed with its range unchanged", p)
	}
	var children []source.Shard
	for _, sh := range after {
		if sh.ParentID == parent.ID {
			children = append(children, sh)
		}
	}
	if len(children) != 2 {
		t.Fatalf("%d shards name %s as parent, want 2", len(children), parent.ID)
	}
	slices.SortFunc(children, func(a, b source.Shard) int {
		la, _ := hashRange(t, a)
		lb, _ := hashRange(t, b)
		return la.Cmp(lb)
	})
	midN, _ := new(big.Int).SetString(mid, 10)
	lo0, hi0 := hashRange(t, children[0])
	lo1, hi1 := hashRange(t, children[1])
	plo, phi := hashRange(t, parent)
	if lo0.Cmp(plo) != 0 || hi0.Cmp(new(big.Int).Sub(midN, big.NewInt(1))) != 0 || lo1.Cmp(midN) != 0 || hi1.Cmp(phi) != 0 {
		t.Fatalf("children ranges [%s, %s] and [%s, %s], want [%s, %s-1] and [%s, %s]", lo0, hi0, lo1, hi1, plo, mid, mid, phi)
	}
	for _, c := range children {
		if c.Closed() || c.AdjacentParentID != "" {
			t.Fatalf("split child %+v: want open, with no adjacent parent", c)
		}
	}
	checkCover(t, after)

	for i, k := range keys(30) {
		p := s.put(t, ctx, st, k, fmt.Sprint("b", i))
		if p.shard == parent.ID {
			t.Fatalf("Put(%q) after the split went to the closed parent", k)
		}
		if !owns(t, after[p.shard], k) {
			t.Fatalf("Put(%q) after the split went to %s, which does not hold its hash key", k, p.shard)
		}
		puts = append(puts, p)
	}
	want := byShard(puts)
	got := s.readToEnd(t, ctx, s.open(t, ctx, st, parent.ID, source.Position{}), len(want[parent.ID]), 4)
	checkRecords(t, got, want[parent.ID])
	read := got
	for id, sh := range after {
		if id == parent.ID {
			continue
		}
		got, _ := s.readN(t, ctx, s.open(t, ctx, st, id, source.Position{}), len(want[id]), 10000)
		checkRecords(t, got, want[id])
		if sh.ParentID == parent.ID {
			read = append(read, got...)
		}
	}
	var family []put
	for _, p := range puts {
		if owns(t, parent, p.key) {
			family = append(family, p)
		}
	}
	checkKeyOrder(t, read, family)
}

func (s suite) merge(t *testing.T, ctx context.Context) { s.mergeOrdered(t, ctx, false) }

func (s suite) mergeIntoLower(t *testing.T, ctx context.Context) { s.mergeOrdered(t, ctx, true) }

// mergeOrdered merges the two lowest shards of three. The shard named first
// becomes the child's ParentID whichever range is lower; upperFirst names
// the upper one first.
func (s suite) mergeOrdered(t *testing.T, ctx context.Context, upperFirst bool) {
	st := s.newStream(t, 3)
	rs := resharder(t, st)
	before := s.shards(t, ctx, st)
	ordered := byRange(t, before)
	a, b := ordered[0], ordered[1]
	if upperFirst {
		a, b = b, a
	}
	lower, upper := ordered[0], ordered[1]
	var puts []put
	for i, k := range keys(30) {
		puts = append(puts, s.put(t, ctx, st, k, fmt.Sprint("a", i)))
	}
	if err := rs.MergeShards(ctx, a.ID, b.ID); err != nil {
		t.Fatalf("MergeShards(%s, %s): %v", a.ID, b.ID, err)
	}
	after := s.shards(t, ctx, st)
	if len(after) != 4 {
		t.Fatalf("after merging 2 of 3 shards, %d shards are listed, want 4", len(after))
	}
	var child source.Shard
	for _, sh := range after {
		if _, old := before[sh.ID]; !old {
			child = sh
		}
	}
	if child.ParentID != a.ID || child.AdjacentParentID != b.ID || child.Closed() {
		t.Fatalf("merged child %+v: want open, ParentID %s, AdjacentParentID %s", child, a.ID, b.ID)
	}
	if child.HashKeyStart != lower.HashKeyStart || child.HashKeyEnd != upper.HashKeyEnd {
		t.Fatalf("merged child range [%s, %s], want [%s, %s]", child.HashKeyStart, child.HashKeyEnd, lower.HashKeyStart, upper.HashKeyEnd)
	}
	if !after[a.ID].Closed() || !after[b.ID].Closed() || after[ordered[2].ID].Closed() {
		t.Fatalf("after the merge: %s closed=%v, %s closed=%v, %s closed=%v; want true, true, false",
			a.ID, after[a.ID].Closed(), b.ID, after[b.ID].Closed(), ordered[2].ID, after[ordered[2].ID].Closed())
	}
	checkCover(t, after)

	for i, k := range keys(30) {
		p := s.put(t, ctx, st, k, fmt.Sprint("b", i))
		if p.shard == a.ID || p.shard == b.ID {
			t.Fatalf("Put(%q) after the merge went to closed parent %s", k, p.shard)
		}
		puts = append(puts, p)
	}
	want := byShard(puts)
	var read []source.Record
	for _, id := range []string{a.ID, b.ID} {
		got := s.readToEnd(t, ctx, s.open(t, ctx, st, id, source.Position{}), len(want[id]), 10000)
		checkRecords(t, got, want[id])
		read = append(read, got...)
	}
	got, _ := s.readN(t, ctx, s.open(t, ctx, st, child.ID, source.Position{}), len(want[child.ID]), 10000)
	checkRecords(t, got, want[child.ID])
	read = append(read, got...)
	var family []put
	for _, p := range puts {
		if owns(t, child, p.key) {
			family = append(family, p)
		}
	}
	checkKeyOrder(t, read, family)
}

// mergeIntoLowerRefused checks a backend declared WithMergeLowerFirst: naming
// the upper shard of an adjacent open pair first is refused, changes no
// shard, and leaves the stream able to merge the pair lower first.
func (s suite) mergeIntoLowerRefused(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 3)
	rs := resharder(t, st)
	before := s.shards(t, ctx, st)
	ordered := byRange(t, before)
	lower, upper := ordered[0], ordered[1]
	if err := rs.MergeShards(ctx, upper.ID, lower.ID); err == nil {
		t.Fatalf("MergeShards(%s, %s) with the upper shard first: no error, though WithMergeLowerFirst says the backend refuses it; if it now takes either order, drop the option",
			upper.ID, lower.ID)
	}
	if after := s.shards(t, ctx, st); !maps.Equal(after, before) {
		t.Fatalf("a refused merge changed the shards from %v to %v", before, after)
	}
	if err := rs.MergeShards(ctx, lower.ID, upper.ID); err != nil {
		t.Fatalf("MergeShards(%s, %s) after a refused merge: %v", lower.ID, upper.ID, err)
	}
	after := s.shards(t, ctx, st)
	if len(after) != 4 || !after[lower.ID].Closed() || !after[upper.ID].Closed() {
		t.Fatalf("after the merge lower first: %v; want 4 shards, %s and %s closed", after, lower.ID, upper.ID)
	}
}

// byRange returns the shards ordered by the start of their hash ranges.
func byRange(t *testing.T, shards map[string]source.Shard) []source.Shard {
	t.Helper()
	ordered := slices.Collect(maps.Values(shards))
	slices.SortFunc(ordered, func(a, b source.Shard) int {
		la, _ := hashRange(t, a)
		lb, _ := hashRange(t, b)
		return la.Cmp(lb)
	})
	return ordered
}

func (s suite) reshardErrors(t *testing.T, ctx context.Context) {
	st := s.newStream(t, 3)
	rs := resharder(t, st)
	before := s.shards(t, ctx, st)
	ordered := byRange(t, before)
	first, second, third := ordered[0], ordered[1], ordered[2]
	above, _ := new(big.Int).SetString(first.HashKeyEnd, 10)
	above.Add(above, big.NewInt(1))

	for _, c := range []struct {
		name string
		do   func() error
	}{
		{"SplitUnknownShard", func() error { return rs.SplitShard(ctx, "shardId-999999999999", midpoint(t, first)) }},
		{"SplitAtRangeStart", func() error { return rs.SplitShard(ctx, first.ID, first.HashKeyStart) }},
		{"SplitAboveRange", func() error { return rs.SplitShard(ctx, first.ID, above.String()) }},
		{"SplitMalformedKey", func() error { return rs.SplitShard(ctx, first.ID, "12x") }},
		{"MergeNotAdjacent", func() error { return rs.MergeShards(ctx, first.ID, third.ID) }},
		{"MergeWithItself", func() error { return rs.MergeShards(ctx, first.ID, first.ID) }},
		{"MergeUnknownShard", func() error { return rs.MergeShards(ctx, first.ID, "shardId-999999999999") }},
	} {
		if err := c.do(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	after := s.shards(t, ctx, st)
	if len(after) != 3 {
		t.Fatalf("failed reshards changed the shards: %d listed, want 3", len(after))
	}
	for _, sh := range after {
		if sh.Closed() {
			t.Fatalf("failed reshards closed %s", sh.ID)
		}
	}

	// A closed shard can be neither split nor merged.
	if err := rs.MergeShards(ctx, first.ID, second.ID); err != nil {
		t.Fatalf("MergeShards(%s, %s): %v", first.ID, second.ID, err)
	}
	if err := rs.SplitShard(ctx, first.ID, midpoint(t, first)); err == nil {
		t.Error("SplitShard of a closed shard: no error")
	}
	if err := rs.MergeShards(ctx, second.ID, third.ID); err == nil {
		t.Error("MergeShards of a closed shard: no error")
	}
}
