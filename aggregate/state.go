package aggregate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/streamtop/streamtop/window"
)

// stateVersion leads every encoded state, so a later format can still read
// (or clearly refuse) an older one. Version 1 held every window in its own
// encoding; version 2 leads each group's window with a byte saying how it is
// held (windowWhole or windowPanes).
const (
	stateVersion   = 2
	stateVersionV1 = 1
)

// How a version 2 state holds a group's window.
const (
	windowWhole = 0 // the window's own binary encoding
	windowPanes = 1 // a Sketch as its panes (see panes)
)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("aggregate: corrupt state")

const (
	flagStarted = 1 << iota
	flagExact
	flagSketch // the windows are window.Sketches
)

// encodeState writes, in order: the version, flags, cur, firstEnd, the last
// record counted, then each group (sorted, so equal states encode equally)
// with its window: as its panes, each closed pane the same bytes at every
// save; or in the window's own binary form if whole, or for a window
// restored whole until it has passed the buckets it held. Integers are
// varints: the visualizer's 4 groups of 6 keys over 10 buckets take well
// under 4 KB.
func encodeState(s *state, whole bool) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, stateVersion)
	var flags byte
	if s.started {
		flags |= flagStarted
	}
	if s.exact {
		flags |= flagExact
	}
	if s.sketch {
		flags |= flagSketch
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, s.cur)
	b = binary.AppendVarint(b, s.firstEnd)
	b = appendString(b, s.applied.Number)
	b = binary.AppendVarint(b, s.applied.Sub)
	groups := make([]string, 0, len(s.windows))
	for g := range s.windows {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	b = binary.AppendUvarint(b, uint64(len(groups)))
	for _, g := range groups {
		b = appendString(b, g)
		w := s.windows[g]
		if !whole && s.panes[g] != nil && !s.panes[g].stillLegacy(w) {
			b = append(b, windowPanes)
			var err error
			if b, err = s.panes[g].appendPanes(b, w, s.size, s.bucket, s.capacity); err != nil {
				return nil, fmt.Errorf("encoding the panes of group %q: %w", g, err)
			}
			continue
		}
		enc, err := w.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encoding the window of group %q: %w", g, err)
		}
		b = append(b, windowWhole)
		b = appendBytes(b, enc)
	}
	return b, nil
}

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads an encoded state; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	if d.err != nil {
		return nil
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > uint64(len(d.b)-n) {
		d.fail(what)
		return nil
	}
	s := d.b[n : n+int(v)]
	d.b = d.b[n+int(v):]
	return s
}

// decodeState reads what encodeState wrote, in this version or version 1;
// corrupt bytes are an error, never a panic.
// The windows are window.Sketches if the state was saved in Sketch mode
// (st.sketch), window.Counters otherwise, of the shape they were saved in.
func decodeState(b []byte) (state, error) {
	st := state{windows: map[string]groupWindow{}, panes: map[string]*panes{}}
	if len(b) < 2 {
		return st, fmt.Errorf("%w: %d bytes", errCorrupt, len(b))
	}
	version := b[0]
	if version != stateVersion && version != stateVersionV1 {
		return st, fmt.Errorf("%w: version %d, want %d", errCorrupt, b[0], stateVersion)
	}
	if b[1]&^(flagStarted|flagExact|flagSketch) != 0 {
		return st, fmt.Errorf("%w: unknown flags %#x", errCorrupt, b[1])
	}
	st.sketch = b[1]&flagSketch != 0
	st.started, st.exact = b[1]&flagStarted != 0, b[1]&flagExact != 0
	d := decoder{b: b[2:]}
	st.cur = d.varint("newest bucket")
	st.firstEnd = d.varint("first window end")
	st.applied.Number = string(d.bytes("last sequence number"))
	st.applied.Sub = d.varint("last subsequence number")
	if d.err != nil {
		return st, d.err
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)) {
		return st, fmt.Errorf("%w: group count", errCorrupt)
	}
	d.b = d.b[k:]
	prev := ""
	for i := range n {
		g := string(d.bytes("group name"))
		if d.err != nil {
			return st, d.err
		}
		if g == "" || i > 0 && g <= prev {
			return st, fmt.Errorf("%w: group names out of order", errCorrupt)
		}
		prev = g
		how := byte(windowWhole)
		if version == stateVersion {
			if len(d.b) == 0 {
				return st, fmt.Errorf("%w: group %q: window kind", errCorrupt, g)
			}
			how, d.b = d.b[0], d.b[1:]
		}
		switch {
		case how == windowPanes:
			w, ps := decodePanes(&d, st.sketch)
			if d.err != nil {
				return st, fmt.Errorf("group %q: %w", g, d.err)
			}
			shape := [3]uint64{uint64(st.size / max(st.bucket, 1)), uint64(st.bucket), uint64(st.capacity)}
			if st.bucket != 0 && ps.saved != shape {
				return st, fmt.Errorf("%w: group %q: windows of different shapes", errCorrupt, g)
			}
			st.bucket, st.capacity = time.Duration(ps.saved[1]), int(ps.saved[2])
			st.size = time.Duration(ps.saved[0]) * st.bucket
			st.windows[g], st.panes[g] = w, ps
			continue
		case how != windowWhole:
			return st, fmt.Errorf("%w: group %q: window kind %d", errCorrupt, g, how)
		}
		w := d.bytes("window")
		if d.err != nil {
			return st, d.err
		}
		var c groupWindow = &window.Counter[string]{}
		if st.sketch {
			c = &window.Sketch[string]{}
		}
		if err := c.UnmarshalBinary(w); err != nil {
			return st, fmt.Errorf("%w: window of group %q: %w", errCorrupt, g, err)
		}
		st.windows[g] = c
		// Saved whole: its closed panes are not to be had, so it is
		// saved whole until its window has passed them.
		ps := newPanes()
		ps.legacy = true
		_, ps.legacyEnd = c.Bounds()
		st.panes[g] = ps
	}
	if len(d.b) != 0 {
		return st, fmt.Errorf("%w: %d bytes after the last group", errCorrupt, len(d.b))
	}
	return st, nil
}
