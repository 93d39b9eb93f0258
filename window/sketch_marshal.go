package window

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/streamtop/streamtop/internal/keycodec"
	"github.com/streamtop/streamtop/topk"
)

// ErrCorrupt is wrapped by every error UnmarshalBinary returns for bytes it
// cannot decode: truncated, of another structure, key type or version, or
// whose counts break the structure's invariants.
var ErrCorrupt = errors.New("window: corrupt encoding")

// The first byte of each encoding names the structure, the second its format
// version: 1 for a structure without history, 2 for one with (see
// WithHistory), so that a structure without history can still be read by
// the versions of this package that knew only 1.
const (
	magicSketch   = 'W'
	magicCounter  = 'C'
	formatVersion = 1
	formatHistory = 2
)

// maxDecodeUnits bounds the memory a decoded Sketch may ask for, in units of
// SpaceSaving capacity over all its summaries: as much as the largest single
// SpaceSaving. Tests lower it so that fuzzing does not spend its time
// allocating.
var maxDecodeUnits = topk.MaxCapacity

// MarshalBinary encodes s (see encoding.BinaryMarshaler) in a versioned
// format: the window's size, bucket length, capacity, history and position,
// every bucket's exact total and summary, and the merges kept over them, so
// that a decoded Sketch slides, expires, takes late records and reads past
// windows as s would. Equal Sketches encode to equal bytes. A Sketch without
// history is written in the format of the versions before history, which
// they can read. It never fails.
//
// The summaries' filters are written as their largest counter (see
// topk.SpaceSaving.MarshalBinary): a decoded Sketch answers every key
// within the same bounds, and exactly as s wherever no bucket's summary has
// ever held more than capacity keys.
//
// Cost: O(buckets x capacity); a few bytes per monitored (key, bucket)
// besides the keys.
func (s *Sketch[K]) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 256))
}

// AppendBinary appends the encoding MarshalBinary returns to b (see
// encoding.BinaryAppender). It never fails.
func (s *Sketch[K]) AppendBinary(b []byte) ([]byte, error) {
	// Layout: magic, version, key kind; the bucket length, the number of
	// buckets of the window and the capacity, then in version 2 the
	// number of buckets of history (at least 1: a Sketch without history
	// is written as version 1); a byte saying whether the window has
	// started, and if it has, its newest bucket, the distance from the
	// start of the open block (split) to it, and for each bucket of the
	// history and the window, oldest first, its exact total and its pane
	// in topk.SpaceSaving's own encoding (a length of 0 for an empty one),
	// then the prefix merges kept, oldest first: one without history,
	// which version 1 calls the running merge of the back. The summaries
	// are written as they are, suffix merges included, so that a decoded
	// Sketch goes on from the same state.
	if h := len(s.panes) - s.window; h == 0 {
		b = append(b, magicSketch, formatVersion, keycodec.Kind[K]())
		b = appendUvarints(b, uint64(s.bucket), uint64(s.window), uint64(s.capacity))
	} else {
		b = append(b, magicSketch, formatHistory, keycodec.Kind[K]())
		b = appendUvarints(b, uint64(s.bucket), uint64(s.window), uint64(s.capacity), uint64(h))
	}
	if !s.started {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = appendVarint(b, s.newest)
	b = appendUvarints(b, uint64(s.newest-s.split))
	for j := s.retained(); j <= s.newest; j++ {
		slot := s.slot(j)
		b = appendUvarints(b, uint64(s.totals[slot]))
		b = appendSummary(b, s.panes[slot])
	}
	for j := s.newest - int64(len(s.prefix)); j < s.newest; j++ {
		b = appendSummary(b, s.prefixOf(j))
	}
	return b, nil
}

// appendSummary appends p's encoding, length first; an empty summary is just
// a length of 0.
func appendSummary(b []byte, p interface {
	AppendBinary([]byte) ([]byte, error)
	Len() int
	Total() int64
}) []byte {
	if p.Len() == 0 && p.Total() == 0 {
		return append(b, 0)
	}
	// Encode in place, then make room for the length, which is known
	// only now: a move of the summary's bytes, rather than a buffer per
	// summary.
	start := len(b)
	b, _ = p.AppendBinary(b) // never fails
	n := len(b) - start
	var lenBuf [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(lenBuf[:], uint64(n))
	b = append(b, lenBuf[:l]...)
	copy(b[start+l:], b[start:start+n])
	copy(b[start:], lenBuf[:l])
	return b
}

// UnmarshalBinary replaces s's state with the one data encodes (see
// encoding.BinaryUnmarshaler), size, bucket length and capacity included; s
// may be a zero Sketch. It returns an error wrapping ErrCorrupt, and leaves s
// unchanged, if data is not a Sketch of the same key kind in a version this
// package reads, or if its counts are inconsistent (a summary of another
// capacity, a summary whose total differs from the buckets it covers, any
// error topk.SpaceSaving.UnmarshalBinary finds in a summary).
//
// Memory: a new Sketch's for the encoded shape, which nothing in data
// bounds: size/bucket+2 summaries of the capacity, and 2 per bucket of
// history (at most topk.MaxCapacity units of capacity in all, about 92
// bytes a unit).
func (s *Sketch[K]) UnmarshalBinary(data []byte) error {
	r := keycodec.NewReader(data, ErrCorrupt)
	version := checkHeader(r, magicSketch, keycodec.Kind[K]())
	bucket := time.Duration(r.Uint64("bucket length", math.MaxInt64))
	n := int(r.Uint64("buckets", maxSketchBuckets))
	capacity := int(r.Uint64("capacity", topk.MaxCapacity))
	h := 0
	if version == formatHistory && r.Err() == nil {
		h = int(r.Uint64("history", uint64(maxSketchBuckets-n)))
		if r.Err() == nil && h == 0 {
			r.Fail("version %d without history", version)
		}
	}
	started := r.Byte("started")
	if r.Err() != nil {
		return r.Err()
	}
	if _, ok := shape(r, bucket, n+h); !ok {
		return r.Err()
	}
	if summaries := n + h + max(h, 1) + 1; capacity < 1 || summaries*capacity > maxDecodeUnits {
		return fmt.Errorf("%w: capacity %d for %d summaries", ErrCorrupt, capacity, summaries)
	}
	d, err := NewSketch[K](time.Duration(n)*bucket, bucket, capacity, WithHistory(time.Duration(h)*bucket))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := decodeBody(r, started, d.decodeWindow); err != nil {
		return err
	}
	*s = *d
	return nil
}

// decodeWindow reads the newest bucket, the totals and the summaries into
// d, a fresh Sketch of the encoded shape.
func (d *Sketch[K]) decodeWindow(r *keycodec.Reader) {
	d.newest = newestBucket(r, d.bucket, len(d.panes))
	back := int64(r.Uint64("split", uint64(d.window-1)))
	if r.Err() != nil {
		return
	}
	d.started = true
	d.split = d.newest - back
	d.head = d.slot(d.newest)
	d.headFrom = d.newest * int64(d.bucket)
	d.headTo = d.headFrom + int64(d.bucket)

	// sums[i] is the total of the i oldest buckets, the history's and the
	// window's, which must fit in an int64 as a whole.
	oldest := d.retained()
	sums := make([]int64, len(d.panes)+1)
	for j := oldest; j <= d.newest && r.Err() == nil; j++ {
		i := j - oldest
		t := int64(r.Uint64("bucket total", uint64(math.MaxInt64-sums[i])))
		d.totals[d.slot(j)] = t
		sums[i+1] = sums[i] + t
		d.decodeSummary(r, d.panes[d.slot(j)])
	}
	for j := d.newest - int64(len(d.prefix)); j < d.newest && r.Err() == nil; j++ {
		d.decodeSummary(r, d.prefixOf(j))
	}
	if r.Err() != nil {
		return
	}
	sum := func(from, to int64) int64 { return sums[to-oldest+1] - sums[from-oldest] }
	d.total = sum(d.oldest(), d.newest)
	// A bucket's summary totals its own bucket's records, or, as a suffix
	// merge before split, those of every bucket from it to the end of its
	// block; a prefix merge, those of its block up to its bucket.
	for j := d.newest; j >= oldest; j-- {
		want := d.totals[d.slot(j)]
		if j < d.split {
			want = sum(j, d.blockStart(j)+int64(d.window)-1)
		}
		if got := d.panes[d.slot(j)].Total(); got != want {
			r.Fail("the summary of bucket %d totals %d, want %d", j, got, want)
			return
		}
	}
	for j := d.newest - int64(len(d.prefix)); j < d.newest; j++ {
		var want int64
		if d.kept(j) {
			want = sum(d.blockStart(j), j)
		}
		if got := d.prefixOf(j).Total(); got != want {
			r.Fail("the merge of a block up to bucket %d totals %d, want %d", j, got, want)
			return
		}
	}
}

// decodeSummary reads one length-prefixed summary into p, which is empty and
// of the Sketch's capacity.
func (d *Sketch[K]) decodeSummary(r *keycodec.Reader, p *topk.SpaceSaving[K]) {
	data := r.Bytes("summary")
	if r.Err() != nil || len(data) == 0 {
		return
	}
	// Check the capacity before decoding: a summary of another capacity
	// would allocate its own memory.
	h := keycodec.NewReader(data, ErrCorrupt)
	h.Byte("magic")
	h.Byte("version")
	h.Byte("key kind")
	if c := h.Uvarint("capacity"); h.Err() == nil && c != uint64(d.capacity) {
		r.Fail("a summary of capacity %d in a Sketch of capacity %d", c, d.capacity)
		return
	}
	if err := p.UnmarshalBinary(data); err != nil {
		r.Fail("summary: %v", err)
	}
}

// decodeBody reads what follows the started flag, with decode for a started
// window, and checks that nothing follows it.
func decodeBody(r *keycodec.Reader, started byte, decode func(*keycodec.Reader)) error {
	switch started {
	case 0:
	case 1:
		decode(r)
	default:
		r.Fail("started flag %d", started)
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d bytes after the end", r.Len())
	}
	return r.Err()
}

// shape checks a decoded bucket length and number of buckets, and returns
// the window size.
func shape(r *keycodec.Reader, bucket time.Duration, n int) (time.Duration, bool) {
	if bucket <= 0 || n < 1 || int64(n) > math.MaxInt64/int64(bucket) {
		r.Fail("%d buckets of %v", n, bucket)
		return 0, false
	}
	return time.Duration(n) * bucket, true
}

// newestBucket reads the newest bucket's index, which must leave the whole
// window, from the start of its oldest bucket to the end of the newest, in
// the nanoseconds an int64 can hold.
func newestBucket(r *keycodec.Reader, bucket time.Duration, n int) int64 {
	b := int64(bucket)
	lo := math.MinInt64/b + int64(n) // the oldest bucket then starts after MinInt64
	hi := math.MaxInt64/b - 1        // the newest then ends before MaxInt64
	return r.Int64("newest bucket", lo, hi)
}

// checkHeader reads and checks an encoding's magic, version and key kind,
// and returns the version.
func checkHeader(r *keycodec.Reader, magic, kind byte) byte {
	if m := r.Byte("magic"); r.Err() == nil && m != magic {
		r.Fail("starts with %#x, not %#x (%q)", m, magic, magic)
	}
	v := r.Byte("version")
	if r.Err() == nil && v != formatVersion && v != formatHistory {
		r.Fail("format version %d, this package reads %d and %d", v, formatVersion, formatHistory)
	}
	if k := r.Byte("key kind"); r.Err() == nil && k != kind {
		r.Fail("key kind %d, want %d", k, kind)
	}
	return v
}

func appendUvarints(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func appendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }
