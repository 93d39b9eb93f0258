package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"slices"
)

// Errors from Decode. ErrNotAggregated means the data is a plain record; the
// others mean it carries the magic prefix but cannot be read, and a consumer
// passes it on whole, as the KCL does, and counts it.
var (
	// ErrNotAggregated: the data does not start with the magic prefix, or
	// is too short to hold the prefix and a checksum.
	ErrNotAggregated = errors.New("kpl: not an aggregated record")
	// ErrChecksum: the MD5 after the body does not match it.
	ErrChecksum = errors.New("kpl: aggregated record checksum mismatch")
	// ErrMalformed is wrapped by every *FormatError.
	ErrMalformed = errors.New("kpl: malformed aggregated record")
)

// FormatError reports an aggregated record whose body is not a valid
// AggregatedRecord message: a bad varint or wire type, a field running past
// the end, a required field missing, or a key index outside its table.
// errors.Is(err, ErrMalformed) is true for it.
type FormatError struct {
	Offset int    // where in the Kinesis record's data the problem was found
	Reason string // what was wrong there
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("kpl: malformed aggregated record at byte %d: %s", e.Offset, e.Reason)
}

func (e *FormatError) Unwrap() error { return ErrMalformed }

// IsAggregated reports whether data has the shape of an aggregated record:
// the magic prefix, then room for a checksum. It does not look further; Decode
// does.
func IsAggregated(data []byte) bool {
	return len(data) >= len(magic)+md5.Size && bytes.Equal(data[:len(magic)], magic[:])
}

// A Decoder reads aggregated records. It keeps scratch space between calls,
// so a consumer that reuses one allocates nothing per sub-record: each
// sub-record's Data is a slice of the input, and its keys are substrings of
// one string built per aggregated record (and none at all when the key tables
// are the same as the previous record's).
//
// The zero value is ready to use and checks checksums. A Decoder is not safe
// for concurrent use; use one per goroutine. Its scratch space grows to the
// largest record decoded, which is bounded by the input's length.
type Decoder struct {
	// SkipChecksum turns off the MD5 check, which is most of the cost of
	// decoding (see the package documentation). Kinesis checks the
	// integrity of what it stores and sends, so a reader that trusts it may
	// skip; the KCL always checks.
	SkipChecksum bool

	pkSpans, ehkSpans []span
	pk, ehk           []string
	recs              []rawRecord
	keyBuf            []byte
	keys              string // the key tables of the last record, which keys are substrings of
}

// span is a range [start, end) of the body.
type span struct{ start, end int }

// rawRecord is a Record as found on the wire, before its indexes are checked
// against tables that may come after it.
type rawRecord struct {
	data   span
	pk     uint64
	ehk    uint64
	hasEHK bool
}

// Decode appends the sub-records of the aggregated record data to dst, in
// order, and returns the extended slice: the sub-record at dst[len(dst)+i]
// has sub-sequence number i. Their Data are sub-slices of data (so data must
// not be changed while they are in use); their keys are strings of their own.
//
// On any error dst is returned as it came: ErrNotAggregated when data has no
// magic prefix, ErrChecksum when the checksum does not match, a *FormatError
// when the body cannot be read. Tags are checked and dropped.
//
// Decode is O(len(data)): with the checksum it reads the body twice, once
// for MD5 and once to parse it. The smallest sub-record takes 6 bytes, so
// however data was made, Decode appends at most len(data)/6 Records (of 56
// bytes each on 64-bit machines).
func (d *Decoder) Decode(dst []Record, data []byte) ([]Record, error) {
	if !IsAggregated(data) {
		return dst, ErrNotAggregated
	}
	body := data[len(magic) : len(data)-md5.Size]
	if !d.SkipChecksum {
		if sum := md5.Sum(body); !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
			return dst, ErrChecksum
		}
	}
	if out, ok := d.decodeInOrder(dst, body); ok {
		return out, nil
	}
	return d.decodeAnyOrder(dst, body)
}

// decodeInOrder is the fast path, for records laid out as every writer lays
// them out: the key tables first, then the records. It reads the body once,
// appending sub-records as it goes. ok is false if the body is laid out any
// other way or is malformed; then decodeAnyOrder gives the answer (dst's
// length is unchanged whatever was written past it).
func (d *Decoder) decodeInOrder(dst []Record, body []byte) (out []Record, ok bool) {
	// Slices in locals, not in d: stores to dst or to the slices' own
	// elements would otherwise make the compiler reload d's fields.
	pkSpans, ehkSpans := d.pkSpans[:0], d.ehkSpans[:0]
	defer func() { d.pkSpans, d.ehkSpans = pkSpans, ehkSpans }()
	inRecords := false
	var pks, ehks []string // d.pk and d.ehk
	for off := 0; off < len(body); {
		var key uint64
		var start, end int
		if body[off] == keyRecords && off+2 < len(body) && body[off+1] < 0x80 {
			// The common case, a short record, read inline.
			key, start, end = keyRecords, off+2, off+2+int(body[off+1])
			if end > len(body) {
				return dst, false
			}
		} else {
			var ok bool
			if key, start, end, _, ok = field(body, off); !ok {
				return dst, false
			}
		}
		off = end
		switch key {
		case keyPartitionKeyTable, keyExplicitHashKeyTable:
			if inRecords {
				return dst, false
			}
			if key == keyPartitionKeyTable {
				pkSpans = append(pkSpans, span{start, end})
			} else {
				ehkSpans = append(ehkSpans, span{start, end})
			}
		case keyRecords:
			if !inRecords {
				d.pkSpans, d.ehkSpans = pkSpans, ehkSpans
				d.tableKeys(body[:start])
				pks, ehks = d.pk, d.ehk
				inRecords = true
			}
			pkIdx, ehkIdx, hasEHK, data, ok := fastRecord(body, start, end)
			if !ok || pkIdx >= uint64(len(pks)) || hasEHK && ehkIdx >= uint64(len(ehks)) {
				return dst, false
			}
			// Fields are stored into dst one by one: a Record built
			// aside and copied in stalled on store forwarding, at
			// half the decoder's time.
			if len(dst) == cap(dst) {
				dst = slices.Grow(dst, 1)
			}
			dst = dst[:len(dst)+1]
			sub := &dst[len(dst)-1]
			sub.PartitionKey = pks[pkIdx]
			// A full slice expression: appending to one sub-record's
			// Data must not overwrite what follows it.
			sub.Data = body[data:end:end]
			sub.ExplicitHashKey = ""
			if hasEHK {
				sub.ExplicitHashKey = ehks[ehkIdx]
			}
		}
	}
	return dst, true
}

// fastRecord reads the Record message body[start:end] when it is laid out as
// writers do: partition key index, perhaps a hash key index, data, nothing
// else. Otherwise it falls back to parseRecord. Scalars, not a rawRecord,
// come back: they stay in registers. One-byte varints, most of them, are
// read inline.
func fastRecord(b []byte, start, end int) (pk, ehk uint64, hasEHK bool, data int, ok bool) {
	p := start
	if p >= end || b[p] != keyPartitionKeyIndex {
		return slowRecord(b, start, end)
	}
	if p+1 < end && b[p+1] < 0x80 {
		pk, p = uint64(b[p+1]), p+2
	} else if pk, p = varintAt(b, p+1, end); p < 0 {
		return slowRecord(b, start, end)
	}
	if p < end && b[p] == keyExplicitHashKeyIndex {
		if p+1 < end && b[p+1] < 0x80 {
			ehk, p = uint64(b[p+1]), p+2
		} else if ehk, p = varintAt(b, p+1, end); p < 0 {
			return slowRecord(b, start, end)
		}
		hasEHK = true
	}
	if p >= end || b[p] != keyData {
		return slowRecord(b, start, end)
	}
	var l uint64
	if p+1 < end && b[p+1] < 0x80 {
		l, p = uint64(b[p+1]), p+2
	} else if l, p = varintAt(b, p+1, end); p < 0 {
		return slowRecord(b, start, end)
	}
	if l != uint64(end-p) {
		return slowRecord(b, start, end)
	}
	return pk, ehk, hasEHK, p, true
}

// varintAt reads the varint at b[p:end] and returns it and the offset after
// it, or -1 for a bad one.
func varintAt(b []byte, p, end int) (uint64, int) {
	v, n := varint(b[p:end])
	if n == 0 {
		return 0, -1
	}
	return v, p + n
}

func slowRecord(b []byte, start, end int) (pk, ehk uint64, hasEHK bool, data int, ok bool) {
	r, err := parseRecord(b[:end], start)
	// The general parser lets a later data field win, so the data need
	// not run to the end of the record.
	if err != nil || r.data.end != end {
		return 0, 0, false, 0, false
	}
	return r.pk, r.ehk, r.hasEHK, r.data.start, true
}

// decodeAnyOrder reads the body in two passes, for tables anywhere, and says
// exactly what is wrong with a malformed one.
func (d *Decoder) decodeAnyOrder(dst []Record, body []byte) ([]Record, error) {
	if err := d.parse(body); err != nil {
		err.Offset += len(magic)
		return dst, err
	}
	d.buildKeys(body)
	dst = growRecords(dst, len(d.recs))
	for _, r := range d.recs {
		sub := Record{PartitionKey: d.pk[r.pk], Data: body[r.data.start:r.data.end:r.data.end]}
		if r.hasEHK {
			sub.ExplicitHashKey = d.ehk[r.ehk]
		}
		dst = append(dst, sub)
	}
	return dst, nil
}

// tableKeys makes d.pk and d.ehk from the spans of the key tables, all in
// head, the body before its first record. head becomes one string and the keys
// substrings of it: one copy and one allocation per aggregated record, none
// when head is the same as last time (a producer writing few keys). The bytes
// between keys (field keys and lengths) come along; they are few.
func (d *Decoder) tableKeys(head []byte) {
	if string(head) != d.keys {
		d.keys = string(head)
	}
	keys, pk, ehk := d.keys, d.pk[:0], d.ehk[:0]
	for _, s := range d.pkSpans {
		pk = append(pk, keys[s.start:s.end])
	}
	for _, s := range d.ehkSpans {
		ehk = append(ehk, keys[s.start:s.end])
	}
	d.pk, d.ehk = pk, ehk
}

// buildKeys makes d.pk and d.ehk from the spans of the key tables, wherever
// they are in the body. The tables
// become one string, so that keys cost one allocation per aggregated record
// whatever their number, and none when they are the same as last time (a
// producer writing few keys).
func (d *Decoder) buildKeys(body []byte) {
	d.keyBuf = d.keyBuf[:0]
	for _, s := range d.pkSpans {
		d.keyBuf = append(d.keyBuf, body[s.start:s.end]...)
	}
	for _, s := range d.ehkSpans {
		d.keyBuf = append(d.keyBuf, body[s.start:s.end]...)
	}
	if string(d.keyBuf) != d.keys {
		d.keys = string(d.keyBuf)
	}
	off := 0
	d.pk = d.pk[:0]
	for _, s := range d.pkSpans {
		n := s.end - s.start
		d.pk = append(d.pk, d.keys[off:off+n])
		off += n
	}
	d.ehk = d.ehk[:0]
	for _, s := range d.ehkSpans {
		n := s.end - s.start
		d.ehk = append(d.ehk, d.keys[off:off+n])
		off += n
	}
}

func growRecords(s []Record, n int) []Record {
	if n <= cap(s)-len(s) {
		return s
	}
	g := make([]Record, len(s), len(s)+n)
	copy(g, s)
	return g
}

// parse reads an AggregatedRecord body into d's tables and records and checks
// every index. Offsets in its errors are within body.
func (d *Decoder) parse(body []byte) *FormatError {
	d.pkSpans, d.ehkSpans, d.recs = d.pkSpans[:0], d.ehkSpans[:0], d.recs[:0]
	for off := 0; off < len(body); {
		key, start, end, next, ok := field(body, off)
		if !ok {
			return &FormatError{off, "bad field in AggregatedRecord"}
		}
		switch key {
		case keyPartitionKeyTable:
			d.pkSpans = append(d.pkSpans, span{start, end})
		case keyExplicitHashKeyTable:
			d.ehkSpans = append(d.ehkSpans, span{start, end})
		case keyRecords:
			r, err := parseRecord(body[:end], start)
			if err != nil {
				return err
			}
			d.recs = append(d.recs, r)
		}
		off = next
	}
	// The tables may come after the records that index them (the KPL
	// writes them first, but the wire format does not say so).
	for _, r := range d.recs {
		if r.pk >= uint64(len(d.pkSpans)) {
			return &FormatError{r.data.start, fmt.Sprintf("partition key index %d outside a table of %d", r.pk, len(d.pkSpans))}
		}
		if r.hasEHK && r.ehk >= uint64(len(d.ehkSpans)) {
			return &FormatError{r.data.start, fmt.Sprintf("explicit hash key index %d outside a table of %d", r.ehk, len(d.ehkSpans))}
		}
	}
	return nil
}

// parseRecord reads the Record message in b[off:].
func parseRecord(b []byte, off int) (rawRecord, *FormatError) {
	var r rawRecord
	var hasPK, hasData bool
	begin := off
	for off < len(b) {
		key, start, end, next, ok := field(b, off)
		if !ok {
			return r, &FormatError{off, "bad field in Record"}
		}
		switch key {
		case keyPartitionKeyIndex:
			r.pk, _ = varint(b[start:end])
			hasPK = true
		case keyExplicitHashKeyIndex:
			r.ehk, _ = varint(b[start:end])
			r.hasEHK = true
		case keyData:
			r.data = span{start, end}
			hasData = true
		case keyTags:
			if err := checkTag(b[:end], start); err != nil {
				return r, err
			}
		}
		off = next
	}
	// Both are required in the schema; protobuf's decoders refuse a
	// message without them, so the KCL would pass such a record through.
	if !hasPK {
		return r, &FormatError{begin, "Record without partition_key_index"}
	}
	if !hasData {
		return r, &FormatError{begin, "Record without data"}
	}
	return r, nil
}

// checkTag checks the Tag message in b[off:]: well formed, with its required
// key.
func checkTag(b []byte, off int) *FormatError {
	begin, hasKey := off, false
	for off < len(b) {
		key, _, _, next, ok := field(b, off)
		if !ok {
			return &FormatError{off, "bad field in Tag"}
		}
		hasKey = hasKey || key == keyTagKey
		off = next
	}
	if !hasKey {
		return &FormatError{begin, "Tag without key"}
	}
	return nil
}
