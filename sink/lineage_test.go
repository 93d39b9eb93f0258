package sink_test

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/sink"
)

// The hash key space in 8 slots, for shards made of whole slots.
const slots = 8

func slotKey(i int, end bool) string {
	k := new(big.Int).Lsh(big.NewInt(int64(i)), 125)
	if end {
		k.Sub(k, big.NewInt(1))
	}
	return k.String()
}

// modelShard is one shard of a generated history: slots [lo, hi), alive
// (holding records) from bucket first to bucket last, and what its progress
// says, if it wrote any.
type modelShard struct {
	id          string
	lo, hi      int
	parents     []string
	first, last int // last is -1 while open
	known       bool
	through     int
}

// A window is judged complete exactly when the model says so: every shard
// that may hold records of it (alive in one of its buckets) has written its
// progress, and through the window's end unless it ended. Histories are
// random splits and merges on whole slots; a child writes progress only
// after its parents ended, as a Consumer starts children only then.
func TestCompleteMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const n = 3 // buckets per window
		bucket := time.Second
		var shards []*modelShard
		var open []*modelShard
		next := 0
		add := func(lo, hi, first int, parents ...string) *modelShard {
			s := &modelShard{id: fmt.Sprint("s", next), lo: lo, hi: hi, parents: parents, first: first, last: -1}
			next++
			shards = append(shards, s)
			return s
		}
		roots := rapid.SampledFrom([]int{1, 2, 4}).Draw(t, "roots")
		for i := range roots {
			open = append(open, add(i*slots/roots, (i+1)*slots/roots, 0))
		}
		now := rapid.IntRange(1, 12).Draw(t, "now")
		for b := 1; b < now; b++ {
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0: // split
				i := rapid.IntRange(0, len(open)-1).Draw(t, "split")
				s := open[i]
				if s.hi-s.lo < 2 {
					continue
				}
				mid := rapid.IntRange(s.lo+1, s.hi-1).Draw(t, "mid")
				s.last = b
				a, c := add(s.lo, mid, b, s.id), add(mid, s.hi, b, s.id)
				open = append(append(open[:i:i], open[i+1:]...), a, c)
			case 1: // merge two adjacent open shards
				for i, s := range open {
					for j, u := range open {
						if s.hi == u.lo && rapid.Bool().Draw(t, "merge") {
							s.last, u.last = b, b
							m := add(s.lo, u.hi, b, s.id, u.id)
							var rest []*modelShard
							for k, x := range open {
								if k != i && k != j {
									rest = append(rest, x)
								}
							}
							open = append(rest, m)
							goto merged
						}
					}
				}
			merged:
			}
		}
		// Progress: parents before children.
		byID := map[string]*modelShard{}
		var progress []sink.Progress
		for _, s := range shards {
			byID[s.id] = s
			ok := true
			for _, p := range s.parents {
				ok = ok && byID[p].known && byID[p].last >= 0
			}
			if !ok || !rapid.Bool().Draw(t, "writes "+s.id) {
				continue
			}
			s.known = true
			pr := sink.Progress{Shard: s.id, Parents: s.parents, HashKeyStart: slotKey(s.lo, false), HashKeyEnd: slotKey(s.hi, true),
				Bucket: bucket}
			if s.last >= 0 {
				pr.Ended, s.through = true, s.last
			} else {
				s.through = rapid.IntRange(s.first, now).Draw(t, "through "+s.id)
			}
			pr.Through = time.Unix(int64(s.through), 0) // date-proof: Merge never reads a clock
			progress = append(progress, pr)
		}
		for e := 1; e <= now+n; e++ {
			want := true
			for _, s := range shards {
				last := s.last
				if last < 0 {
					last = 1 << 30
				}
				if s.first > e-1 || last < e-n {
					continue // no bucket of the window in its life
				}
				if !s.known || s.last < 0 && s.through < e {
					want = false
				}
			}
			at := time.Unix(int64(e), 0) // date-proof: as above
			got := sink.Merge([]sink.Snapshot{{Group: "g", Time: at, Shard: shards[0].id}}, progress)[0].Complete
			if got != want {
				for _, s := range shards {
					t.Logf("%+v", *s)
				}
				t.Fatalf("window ending at bucket %d: Complete %v, model says %v", e, got, want)
			}
		}
	})
}
