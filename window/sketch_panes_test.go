package window

import (
	"errors"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/topk"
)

// A window rebuilt from the panes AppendNewest gave as it slid holds the
// same records as the original: the same total and bounds, every count
// within its bound of the exact count, and, while the window holds no more
// distinct keys than the capacity, the same counts, which are exact.
func TestSketchRebuiltFromPanes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const bucket = time.Second
		n := rapid.IntRange(1, 6).Draw(t, "buckets")
		capacity := rapid.IntRange(1, 8).Draw(t, "capacity")
		keys := rapid.IntRange(1, 12).Draw(t, "keys")
		s, err := NewSketch[int](time.Duration(n)*bucket, bucket, capacity)
		if err != nil {
			t.Fatal(err)
		}
		type pane struct {
			start time.Time
			enc   []byte
		}
		var panes []pane
		closeNewest := func() {
			enc, start, ok := s.AppendNewest(nil)
			if ok {
				panes = append(panes, pane{start, enc})
			}
		}
		exact := map[int64]map[int]int64{} // bucket -> key -> count
		now := int64(0)
		for range rapid.IntRange(0, 200).Draw(t, "records") {
			if rapid.IntRange(0, 9).Draw(t, "move") == 0 {
				closeNewest()
				now += int64(rapid.IntRange(1, n+1).Draw(t, "step"))
			}
			k := rapid.IntRange(0, keys-1).Draw(t, "key")
			if exact[now] == nil {
				exact[now] = map[int]int64{}
			}
			exact[now][k]++
			s.Add(k, time.Unix(now, 0), 1) // date-proof: the Sketch takes its times from the test
		}
		closeNewest()

		r, err := NewSketch[int](time.Duration(n)*bucket, bucket, capacity)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range panes {
			if err := r.MergeBucket(p.start, p.enc); err != nil {
				t.Fatal(err)
			}
		}
		if r.Total() != s.Total() {
			t.Fatalf("rebuilt total %d, original %d", r.Total(), s.Total())
		}
		rs, re := r.Bounds()
		ss, se := s.Bounds()
		if !rs.Equal(ss) || !re.Equal(se) {
			t.Fatalf("rebuilt bounds %v-%v, original %v-%v", rs, re, ss, se)
		}
		truth := map[int]int64{}
		for b, counts := range exact {
			if b > now-int64(n) {
				for k, c := range counts {
					truth[k] += c
				}
			}
		}
		// The merges a Sketch keeps span several of the window's panes,
		// so panes that each fit are not enough: the window must.
		fits := len(truth) <= capacity
		for _, e := range r.Top(keys) {
			if c := truth[e.Key]; c < e.Count-e.Err || c > e.Count {
				t.Fatalf("rebuilt count of %d: %d (err %d), true %d", e.Key, e.Count, e.Err, c)
			}
		}
		if fits {
			for k := range keys {
				rc, _ := r.Count(k)
				oc, _ := s.Count(k)
				if rc != oc || rc != truth[k] {
					t.Fatalf("key %d: rebuilt %d, original %d, true %d", k, rc, oc, truth[k])
				}
			}
		}
	})
}

func TestSketchMergeBucketRefuses(t *testing.T) {
	s, err := NewSketch[string](4*time.Second, time.Second, 8)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.AppendNewest(nil); ok {
		t.Fatal("AppendNewest of an empty Sketch: ok")
	}
	other, _ := topk.NewSpaceSaving[string](16)
	other.Add("a", 1)
	enc, _ := other.MarshalBinary()
	if err := s.MergeBucket(time.Unix(10, 0), enc); !errors.Is(err, ErrInvalidOption) { // date-proof: no clock involved
		t.Fatalf("MergeBucket of another capacity: %v", err)
	}
	if err := s.MergeBucket(time.Unix(10, 0), enc[:len(enc)-1]); !errors.Is(err, ErrCorrupt) { // date-proof: no clock involved
		t.Fatalf("MergeBucket of a cut pane: %v", err)
	}
	p, _ := topk.NewSpaceSaving[string](8)
	p.Add("a", 2)
	enc, _ = p.MarshalBinary()
	if err := s.MergeBucket(time.Unix(10, 0), enc); err != nil { // date-proof: no clock involved
		t.Fatal(err)
	}
	if err := s.MergeBucket(time.Unix(9, 0), enc); !errors.Is(err, ErrNotNewest) { // date-proof: no clock involved
		t.Fatalf("MergeBucket of an older bucket: %v", err)
	}
	if c, _ := s.Count("a"); c != 2 || s.Total() != 2 {
		t.Fatalf("after the refusals: count %d, total %d; want 2 and 2", c, s.Total())
	}
}
