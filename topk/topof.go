package topk

import "cmp"

// TopOf returns the Top(k) of the union of the summaries' streams without
// merging them or changing any: the k keys with the highest upper bounds,
// ordered by count descending, then key ascending. Nil and empty summaries
// are skipped; TopOf returns nil for k <= 0 or when no summary monitors a
// key.
//
// With N the total weight of all the summaries and c the smallest of their
// capacities, every entry's true count lies in [Count-Err, Count], Err <=
// N/c, and every key whose true count exceeds N/c is among TopOf(c, ...).
// The counts may be lower, that is tighter, than those Top reports after a
// Merge, which raises small counts so that later Adds keep the bound.
//
// TopOf only reads the summaries. It suits a query that would merge a few
// summaries only to read their top once (a sliding window's panes, or one
// summary per shard): it saves the merge's copying.
//
// Cost: with L the summaries' Len summed and p the number of summaries,
// O(L p) table probes plus O(L log k) for the selection; O(k) memory.
func TopOf[K cmp.Ordered](k int, summaries ...*SpaceSaving[K]) []Entry[K] {
	if k <= 0 {
		return nil
	}
	candidates := 0
	for _, s := range summaries {
		if s != nil {
			candidates += len(s.keys)
		}
	}
	if candidates == 0 {
		return nil
	}
	// A key's bounds are the sums of its bounds in every summary, where a
	// summary that does not monitor the key adds its filter counter to the
	// count and to the error, as Merge does. The probes reuse the hashes the
	// summaries hold, so no key is hashed again.
	b := newBest[K](min(k, candidates))
	for p, s := range summaries {
		if s == nil {
			continue
		}
	keys:
		for i, key := range s.keys {
			h := s.hashes[i]
			count, err := s.counts[i], s.errOf(i)
			for q, o := range summaries {
				if q == p || o == nil || (len(o.keys) == 0 && o.total == 0) {
					continue
				}
				j := o.find(key, h)
				switch {
				case j >= 0 && q < p:
					continue keys // offered already, from the first summary that monitors it
				case j >= 0:
					count += o.counts[j]
					err += o.errOf(j)
				default:
					a := o.filter(o.cell(h))
					count += a
					err += a
				}
			}
			b.offer(Entry[K]{Key: key, Count: count, Err: err})
		}
	}
	return b.sorted()
}
