package window

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// A Counter rebuilt from the panes AppendNewest gave as it slid counts
// exactly as the original.
func TestCounterRebuiltFromPanes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const bucket = time.Second
		n := rapid.IntRange(1, 6).Draw(t, "buckets")
		keys := rapid.IntRange(1, 12).Draw(t, "keys")
		c, err := NewCounter[int](time.Duration(n)*bucket, bucket)
		if err != nil {
			t.Fatal(err)
		}
		type pane struct {
			start time.Time
			enc   []byte
		}
		var panes []pane
		closeNewest := func() {
			if enc, start, ok := c.AppendNewest(nil); ok {
				panes = append(panes, pane{start, enc})
			}
		}
		now := int64(0)
		for range rapid.IntRange(0, 200).Draw(t, "records") {
			if rapid.IntRange(0, 9).Draw(t, "move") == 0 {
				closeNewest()
				now += int64(rapid.IntRange(1, n+1).Draw(t, "step"))
			}
			w := rapid.Int64Range(-2, 5).Draw(t, "weight")
			c.Add(rapid.IntRange(0, keys-1).Draw(t, "key"), time.Unix(now, 0), w) // date-proof: the Counter takes its times from the test
		}
		closeNewest()
		r, err := NewCounter[int](time.Duration(n)*bucket, bucket)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range panes {
			if err := r.MergeBucket(p.start, p.enc); err != nil {
				t.Fatal(err)
			}
		}
		if r.Total() != c.Total() || r.Len() != c.Len() {
			t.Fatalf("rebuilt total %d over %d keys, original %d over %d", r.Total(), r.Len(), c.Total(), c.Len())
		}
		for k := range keys {
			if r.Count(k) != c.Count(k) {
				t.Fatalf("key %d: rebuilt %d, original %d", k, r.Count(k), c.Count(k))
			}
		}
		if rt, ct := r.Top(keys+1), c.Top(keys+1); !slices.Equal(rt, ct) {
			t.Fatalf("rebuilt Top %v, original %v", rt, ct)
		}
		rs, re := r.Bounds()
		cs, ce := c.Bounds()
		if len(panes) > 0 && (!rs.Equal(cs) || !re.Equal(ce)) {
			t.Fatalf("rebuilt bounds %v-%v, original %v-%v", rs, re, cs, ce)
		}
	})
}

// A pane is read from a saved state, where anything may have written it:
// bytes that are not one are an error wrapping ErrCorrupt, never a panic,
// and a pane that merges encodes back to bytes that merge to the same
// counts.
func FuzzCounterMergeBucket(f *testing.F) {
	c, _ := NewCounter[string](3*time.Second, time.Second)
	t0 := time.Unix(100, 0) // date-proof: no clock involved
	c.Add("b", t0, 2)
	c.Add("a", t0, -1)
	c.Add("c", t0, 7)
	enc, _, _ := c.AppendNewest(nil)
	f.Add(enc)
	f.Add(enc[:len(enc)-1])
	f.Add([]byte{magicPane, formatVersion})
	// An overlong varint (0xff 0x00 for 127), which decodes.
	f.Add([]byte{0x50, 0x01, 0x18, 0x03, 0x01, 0x30, 0x30, 0x01, 0x31, 0xff, 0x00, 0x01, 0x32, 0x30})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _ := NewCounter[string](3*time.Second, time.Second)
		if err := d.MergeBucket(t0, b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if d.Total() != 0 || d.Len() != 0 {
				t.Fatal("a refused pane changed the Counter")
			}
			return
		}
		// Varints may come overlong; what merged encodes canonically,
		// and that encoding merges to the same counts.
		again, _, _ := d.AppendNewest(nil)
		e, _ := NewCounter[string](3*time.Second, time.Second)
		if err := e.MergeBucket(t0, again); err != nil {
			t.Fatalf("pane %x, encoded back as %x, does not merge: %v", b, again, err)
		}
		if third, _, _ := e.AppendNewest(nil); !bytes.Equal(third, again) || e.Total() != d.Total() || e.Len() != d.Len() {
			t.Fatalf("pane %x: encoded back as %x, then %x", b, again, third)
		}
		for k, n := range d.All() {
			if e.Count(k) != n {
				t.Fatalf("pane %x: key %q counts %d, then %d", b, k, n, e.Count(k))
			}
		}
	})
}
