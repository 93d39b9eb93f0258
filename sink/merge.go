package sink

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/topk"
)

// Merge turns one group's stored snapshots (partials and whole snapshots,
// in any order) and the progress of every shard into what a Reader returns:
// one snapshot per window end, in time order, with Complete set, and a
// complete snapshot of zero counts at each step (Progress.Bucket) from the
// group's first window on where no shard wrote one. A sink outside this
// module that stores partials and progress its own way reads through it.
//
// A window's partials are summed key by key. A partial that does not list a
// key adds its Floor to the key's Count and Err, so every merged entry's true
// count lies in [Count-Err, Count]; entries are in topk order (count
// descending, then key). A whole snapshot (no Shard) at a window end makes it
// Complete whatever the progress.
//
// Merge does not modify its arguments. Cost: O(n log n) for n partials plus
// their counts, and O(s) for s shards per window judged complete.
func Merge(snapshots []Snapshot, progress []Progress) []Snapshot {
	if len(snapshots) == 0 {
		return []Snapshot{}
	}
	parts := snapshots
	byTimeShard := func(a, b Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Shard, b.Shard)
	}
	if !slices.IsSortedFunc(parts, byTimeShard) {
		parts = slices.Clone(snapshots)
		slices.SortStableFunc(parts, byTimeShard)
	}
	lin := newLineage(progress)
	out := make([]Snapshot, 0, len(parts))
	var scratch mergeScratch
	for i := 0; i < len(parts); {
		j := i + 1
		for j < len(parts) && parts[j].Time.Equal(parts[i].Time) {
			j++
		}
		s := mergeWindow(parts[i:j], &scratch)
		s.Complete = s.Complete || lin.complete(s.Time)
		out = append(out, s)
		i = j
	}
	return lin.fill(out)
}

// mergeScratch is reused from one window to the next.
type mergeScratch struct {
	index  map[string]int // key -> its place in the merged counts
	floors []int64        // per merged entry: floors of the partials listing it
}

// mergeWindow merges the snapshots of one window end.
func mergeWindow(parts []Snapshot, sc *mergeScratch) Snapshot {
	first := parts[0]
	m := Snapshot{Group: first.Group, Time: first.Time, Window: first.Window}
	if len(parts) == 1 && first.Shard == "" {
		m.Counts, m.Host, m.Floor, m.Complete = slices.Clone(first.Counts), first.Host, first.Floor, true
		return m
	}
	if sc.index == nil {
		sc.index = map[string]int{}
	}
	clear(sc.index)
	floors := sc.floors[:0]
	var hosts []string
	for _, p := range parts {
		m.Floor += p.Floor
		if p.Shard == "" {
			m.Complete = true
		}
		if p.Host != "" && !slices.Contains(hosts, p.Host) {
			hosts = append(hosts, p.Host)
		}
		for _, e := range p.Counts {
			i, ok := sc.index[e.Key]
			if !ok {
				i = len(m.Counts)
				sc.index[e.Key] = i
				m.Counts = append(m.Counts, topk.Entry[string]{Key: e.Key})
				floors = append(floors, 0)
			}
			m.Counts[i].Count += e.Count
			m.Counts[i].Err += e.Err
			floors[i] += p.Floor
		}
	}
	sc.floors = floors
	slices.Sort(hosts)
	m.Host = strings.Join(hosts, ",")
	for i := range m.Counts {
		// Where a partial does not list the key, it may have up to
		// that partial's floor.
		unlisted := m.Floor - floors[i]
		m.Counts[i].Count += unlisted
		m.Counts[i].Err += unlisted
	}
	slices.SortFunc(m.Counts, func(a, b topk.Entry[string]) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return m
}

// lineage is the shards' progress, arranged to judge windows complete.
//
// A window ending at e is complete when every shard that may hold records of
// it has written through e. The shards with no known parent (the roots) must
// cover the whole hash key space, or a shard that never wrote would go
// unnoticed. A shard covers e when e is at or after its From and at or
// before its Through; an ended shard covers every later e too, for its own
// records, but records after its Through are its children's, so its
// children must cover its hash key range and each cover e in turn.
type lineage struct {
	shards   map[string]*Progress
	children map[string][]*Progress
	roots    []*Progress
	whole    bool // the roots cover the hash key space
	bucket   time.Duration
	memo     map[string]bool // per shard, for the e being judged
}

func newLineage(progress []Progress) *lineage {
	l := &lineage{shards: map[string]*Progress{}, children: map[string][]*Progress{}, memo: map[string]bool{}}
	for i := range progress {
		p := &progress[i]
		l.shards[p.Shard] = p
		if l.bucket == 0 {
			l.bucket = p.Bucket
		}
	}
	for _, p := range l.shards {
		root := true
		for _, parent := range p.Parents {
			if _, ok := l.shards[parent]; ok {
				l.children[parent] = append(l.children[parent], p)
				root = false
			}
		}
		if root {
			l.roots = append(l.roots, p)
		}
	}
	l.whole = covers(l.roots, hashkey.Key{}, hashkey.Max)
	return l
}

// complete reports whether the window ending at e is complete.
func (l *lineage) complete(e time.Time) bool {
	if !l.whole {
		return false
	}
	clear(l.memo)
	for _, r := range l.roots {
		if !l.covered(r, e) {
			return false
		}
	}
	return true
}

func (l *lineage) covered(p *Progress, e time.Time) bool {
	if done, ok := l.memo[p.Shard]; ok {
		return done // a merge's child, reached from both parents
	}
	ok := l.judge(p, e)
	l.memo[p.Shard] = ok
	return ok
}

func (l *lineage) judge(p *Progress, e time.Time) bool {
	switch {
	case e.Before(p.From):
		return false
	case !e.After(p.Through):
		return true
	case !p.Ended:
		return false
	}
	kids := l.children[p.Shard]
	lo, err1 := hashkey.Parse(p.HashKeyStart)
	hi, err2 := hashkey.Parse(p.HashKeyEnd)
	if err1 != nil || err2 != nil || !covers(kids, lo, hi) {
		return false
	}
	for _, k := range kids {
		if !l.covered(k, e) {
			return false
		}
	}
	return true
}

// covers reports whether the shards' hash key ranges together cover
// [lo, hi]. A shard whose range does not parse covers nothing.
func covers(shards []*Progress, lo, hi hashkey.Key) bool {
	type span struct{ lo, hi hashkey.Key }
	spans := make([]span, 0, len(shards))
	for _, p := range shards {
		a, err1 := hashkey.Parse(p.HashKeyStart)
		b, err2 := hashkey.Parse(p.HashKeyEnd)
		if err1 == nil && err2 == nil && a.Compare(b) <= 0 {
			spans = append(spans, span{a, b})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo.Compare(b.lo) })
	next := lo // the lowest key not yet covered
	for _, s := range spans {
		if s.lo.Compare(next) > 0 {
			return false
		}
		if s.hi.Compare(hi) >= 0 {
			return true
		}
		if s.hi.Compare(next) >= 0 {
			next = s.hi.Next()
		}
	}
	return false
}

// maxFill bounds the windows one Merge steps through to fill, past the
// last snapshot: a day of 1 s buckets, a few milliseconds of work.
const maxFill = 86_400

// fill adds a complete zero snapshot at each bucket step after the group's
// first window where none was written, up to the last complete window.
// Windows are only added between the first snapshot and the point where
// windows stop being complete, so a query never runs on unboundedly.
func (l *lineage) fill(snaps []Snapshot) []Snapshot {
	if l.bucket <= 0 || len(snaps) == 0 || !l.whole {
		return snaps
	}
	first := snaps[0]
	var through time.Time
	for _, p := range l.shards {
		if p.Through.After(through) {
			through = p.Through
		}
	}
	out := make([]Snapshot, 0, len(snaps))
	i := 0
	for e, n := first.Time, 0; ; e, n = e.Add(l.bucket), n+1 {
		if n >= maxFill && i == len(snaps) {
			break // a far-future Through (a bad clock) or a tiny bucket
		}
		for i < len(snaps) && snaps[i].Time.Before(e) {
			out = append(out, snaps[i]) // off the bucket grid: kept as written
			i++
		}
		if i < len(snaps) && snaps[i].Time.Equal(e) {
			out = append(out, snaps[i])
			i++
			continue
		}
		if i == len(snaps) && (e.After(through) || !l.complete(e)) {
			break
		}
		if l.complete(e) {
			out = append(out, Snapshot{Group: first.Group, Time: e, Window: first.Window, Complete: true})
		}
	}
	return out
}
