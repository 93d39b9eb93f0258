package kpl

// The protobuf wire format, as much of it as the aggregated record uses:
// a message is a run of fields, each a varint key (field number << 3 | wire
// type) followed by a varint (type 0), 8 bytes (type 1), a varint length and
// that many bytes (type 2), or 4 bytes (type 5). Groups (types 3 and 4) are
// long deprecated and the format never had any, so they are rejected.

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// Field keys of the messages, precomputed: field number << 3 | wire type. A
// known field number arriving with another wire type is an unknown field, as
// protobuf's own decoders treat it.
const (
	keyPartitionKeyTable    = 1<<3 | wireBytes  // AggregatedRecord.partition_key_table
	keyExplicitHashKeyTable = 2<<3 | wireBytes  // AggregatedRecord.explicit_hash_key_table
	keyRecords              = 3<<3 | wireBytes  // AggregatedRecord.records
	keyPartitionKeyIndex    = 1<<3 | wireVarint // Record.partition_key_index
	keyExplicitHashKeyIndex = 2<<3 | wireVarint // Record.explicit_hash_key_index
	keyData                 = 3<<3 | wireBytes  // Record.data
	keyTags                 = 4<<3 | wireBytes  // Record.tags
	keyTagKey               = 1<<3 | wireBytes  // Tag.key
)

// varint reads a base-128 varint from b. n is the number of bytes read, or 0
// when b ends inside the varint or the varint is longer than ten bytes or
// overflows 64 bits.
func varint(b []byte) (v uint64, n int) {
	// Most values here are field keys, table indexes and short lengths:
	// one byte.
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	var shift uint
	for i, c := range b[:min(len(b), 10)] {
		if i == 9 && c > 1 {
			return 0, 0 // bits beyond the 64th
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i + 1
		}
		shift += 7
	}
	return 0, 0
}

// field reads one field's key from b[off:] and skips its value. It returns
// the key, the start and end of the value within b (for wire type 2, of the
// bytes after the length), and the offset of the next field. ok is false when
// the field is malformed: a bad varint, field number 0, a group or an unknown
// wire type, or a value running past the end of b.
func field(b []byte, off int) (key uint64, start, end, next int, ok bool) {
	key, n := varint(b[off:])
	if n == 0 || key>>3 == 0 {
		return 0, 0, 0, 0, false
	}
	start = off + n
	switch key & 7 {
	case wireVarint:
		_, m := varint(b[start:])
		if m == 0 {
			return 0, 0, 0, 0, false
		}
		end = start + m
	case wireFixed64:
		end = start + 8
	case wireFixed32:
		end = start + 4
	case wireBytes:
		l, m := varint(b[start:])
		// Compare before adding, so a huge length cannot wrap around.
		if m == 0 || l > uint64(len(b)-start-m) {
			return 0, 0, 0, 0, false
		}
		start += m
		end = start + int(l)
	default:
		return 0, 0, 0, 0, false
	}
	if end > len(b) {
		return 0, 0, 0, 0, false
	}
	return key, start, end, end, true
}

// varintLen is the number of bytes v takes as a varint.
func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendBytesField appends a length-delimited field; key must be one byte
// (field numbers below 16), as all of this format's are.
func appendBytesField(b []byte, key byte, v []byte) []byte {
	b = append(b, key)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, key byte, v string) []byte {
	b = append(b, key)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}
