package aggregate

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// panes keeps a group's closed buckets as the encodings of their own counts
// (AppendNewest of window.Sketch or window.Counter), taken as the window
// moves past each, so that a saved state lists panes that stay byte for
// byte the same from one checkpoint to the next. A store that writes only
// the chunks that changed (checkpoint/dynamostore's state table) then writes
// about one pane per bucket: not a Sketch's merges, which it rebuilds as it
// slides, nor a Counter's key list, which changes as keys come and go.
//
// Late records still reach a closed bucket's pane in the window; they are
// kept in late and added to the encoding at the next save.
type panes struct {
	closed map[int64][]byte    // bucket index -> pane
	late   map[int64][]lateAdd // bucket index -> adds since its pane was taken
	// legacy: the group was restored from a state that held its Sketch
	// whole, whose window ended at legacyEnd, so closed lacks the buckets
	// before the newest then, and the group is saved whole until its
	// window has passed them.
	legacy    bool
	legacyEnd time.Time
	// saved is the window's shape as decodePanes read it (zero for a new
	// group): buckets, bucket length, capacity.
	saved [3]uint64
}

// stillLegacy reports whether w's window still holds buckets whose panes
// were never taken, clearing legacy once it does not.
func (ps *panes) stillLegacy(w groupWindow) bool {
	if ps.legacy {
		// The newest bucket at the restore may be one that no close
		// takes again (the group had no record in the processor's
		// newest bucket); it and the ones before it are gone once the
		// window starts after it.
		if start, _ := w.Bounds(); !start.Before(ps.legacyEnd) {
			ps.legacy = false
		}
	}
	return ps.legacy
}

type lateAdd struct {
	key string
	n   int64
}

func newPanes() *panes {
	return &panes{closed: map[int64][]byte{}, late: map[int64][]lateAdd{}}
}

// take records the newest pane of w, a window about to slide past it.
func (ps *panes) take(w groupWindow, bucket time.Duration) {
	enc, start, ok := w.AppendNewest(nil)
	if !ok {
		return
	}
	b := bucketIndex(start, bucket)
	ps.closed[b] = enc
	delete(ps.late, b) // the pane has them
}

// settle adds the late records to their panes' encodings, and drops the
// panes before oldest. capacity is the Sketches', 0 for Counters.
func (ps *panes) settle(capacity int, bucket time.Duration, oldest int64) error {
	for b, adds := range ps.late {
		// A window of the one bucket: its pane, plus the late records.
		w, err := newGroupWindow(bucket, bucket, capacity)
		if err != nil {
			return err
		}
		t := bucketTime(b, bucket)
		if enc := ps.closed[b]; enc != nil {
			if err := w.MergeBucket(t, enc); err != nil {
				return err
			}
		}
		for _, a := range adds {
			w.Add(a.key, t, a.n)
		}
		ps.closed[b], _, _ = w.AppendNewest(nil)
		delete(ps.late, b)
	}
	for b := range ps.closed {
		if b < oldest {
			delete(ps.closed, b)
		}
	}
	return nil
}

// appendPanes appends the group's window as panes: the shape, then each
// closed pane before the newest bucket, oldest first, and the newest pane,
// each as its bucket index and encoding.
func (ps *panes) appendPanes(b []byte, w groupWindow, size, bucket time.Duration, capacity int) ([]byte, error) {
	if bucket <= 0 || size < bucket || capacity < 0 {
		return nil, fmt.Errorf("window shape %v/%v, capacity %d", size, bucket, capacity)
	}
	n := int64(size / bucket)
	b = appendUvarint(b, uint64(n))
	b = appendUvarint(b, uint64(bucket))
	b = appendUvarint(b, uint64(capacity))
	newest, start, ok := w.AppendNewest(nil)
	if !ok {
		return appendUvarint(b, 0), nil
	}
	nb := bucketIndex(start, bucket)
	if err := ps.settle(capacity, bucket, nb-n+1); err != nil {
		return nil, err
	}
	order := slices.Sorted(maps.Keys(ps.closed))
	for len(order) > 0 && order[len(order)-1] >= nb {
		order = order[:len(order)-1]
	}
	room := len(newest) + 2*binary.MaxVarintLen64*(len(order)+1)
	for _, i := range order {
		room += len(ps.closed[i])
	}
	b = slices.Grow(b, room)
	b = appendUvarint(b, uint64(len(order)+1))
	for _, i := range order {
		b = appendVarint(b, i)
		b = appendBytes(b, ps.closed[i])
	}
	b = appendVarint(b, nb)
	return appendBytes(b, newest), nil
}

// decodePanes reads what appendPanes wrote: the window it rebuilds (a
// Sketch if sketch, else a Counter) and the closed panes.
func decodePanes(d *decoder, sketch bool) (groupWindow, *panes) {
	n, bucket, capacity := d.uvarint("buckets"), d.uvarint("bucket length"), d.uvarint("capacity")
	count := d.uvarint("pane count")
	if d.err != nil {
		return nil, nil
	}
	// A Sketch allocates its summaries up front: bound them as the window
	// package bounds a decoded Sketch, so corrupt bytes cannot ask for
	// more memory than the largest single summary.
	if n == 0 || bucket == 0 || n > 1<<16 || bucket > 1<<62/n || count > n ||
		sketch && (capacity == 0 || capacity > topk.MaxCapacity/(n+3)) || !sketch && capacity != 0 {
		d.fail("window shape")
		return nil, nil
	}
	length := time.Duration(bucket)
	w, err := newGroupWindow(time.Duration(n)*length, length, int(capacity))
	if err != nil {
		d.fail("window shape: " + err.Error())
		return nil, nil
	}
	ps := newPanes()
	ps.saved = [3]uint64{n, bucket, capacity}
	var first, prev int64
	for i := range count {
		b := d.varint("pane bucket")
		enc := d.bytes("pane")
		if d.err != nil {
			return nil, nil
		}
		if i == 0 {
			first = b
		} else if b <= prev || b-first >= int64(n) {
			d.fail("pane buckets out of order or outside one window")
			return nil, nil
		}
		prev = b
		if err := w.MergeBucket(bucketTime(b, length), enc); err != nil {
			d.fail("pane: " + err.Error())
			return nil, nil
		}
		// The newest pane too: it may be a closed bucket, of a group
		// with no record in the processor's newest bucket yet, which
		// no later close takes again. If it is still open, the close
		// takes it again, with what it gets meanwhile.
		ps.closed[b] = slices.Clone(enc)
	}
	return w, ps
}
