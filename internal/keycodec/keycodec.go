// Package keycodec writes and reads the pieces of the binary encodings of
// topk's and window's structures: varints, and keys of any cmp.Ordered type,
// named types included, by their underlying kind.
//
// It exists so that the two packages encode keys the same way, and so that a
// decoder never trusts a length it has not checked against the bytes left.
package keycodec

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Kind returns the tag an encoding records for its key type: the
// reflect.Kind of K's underlying type. A decoder compares it with its own,
// so bytes written for string keys are refused by a structure of int keys
// rather than misread.
func Kind[K cmp.Ordered]() byte {
	return byte(reflect.TypeFor[K]().Kind())
}

// AppendKey appends key's encoding to b: a string as its length and bytes,
// a signed integer as a zigzag varint, an unsigned one as a varint, a float
// as its IEEE 754 bits, little-endian (4 or 8 bytes). Every encoding takes
// at least one byte.
//
// A named type shares the memory layout of its underlying type, so the key
// is read through a pointer of that type once the kind is known; that spares
// the allocation a reflect.Value would cost per key.
func AppendKey[K cmp.Ordered](b []byte, key K) []byte {
	p := unsafe.Pointer(&key)
	switch reflect.TypeFor[K]().Kind() {
	case reflect.String:
		s := *(*string)(p)
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	case reflect.Int:
		return binary.AppendVarint(b, int64(*(*int)(p)))
	case reflect.Int8:
		return binary.AppendVarint(b, int64(*(*int8)(p)))
	case reflect.Int16:
		return binary.AppendVarint(b, int64(*(*int16)(p)))
	case reflect.Int32:
		return binary.AppendVarint(b, int64(*(*int32)(p)))
	case reflect.Int64:
		return binary.AppendVarint(b, *(*int64)(p))
	case reflect.Uint:
		return binary.AppendUvarint(b, uint64(*(*uint)(p)))
	case reflect.Uint8:
		return binary.AppendUvarint(b, uint64(*(*uint8)(p)))
	case reflect.Uint16:
		return binary.AppendUvarint(b, uint64(*(*uint16)(p)))
	case reflect.Uint32:
		return binary.AppendUvarint(b, uint64(*(*uint32)(p)))
	case reflect.Uint64:
		return binary.AppendUvarint(b, *(*uint64)(p))
	case reflect.Uintptr:
		return binary.AppendUvarint(b, uint64(*(*uintptr)(p)))
	case reflect.Float32:
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(*(*float32)(p)))
	case reflect.Float64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(*(*float64)(p)))
	}
	// cmp.Ordered admits no other kind.
	panic("keycodec: unsupported key kind " + reflect.TypeFor[K]().Kind().String())
}

// Reader reads an encoding from the front of its bytes. The first failure
// sticks: later reads return zero values, and Err says what was wrong,
// wrapping the sentinel the Reader was made with. It never panics and never
// allocates more than the bytes it has left could describe.
type Reader struct {
	b        []byte
	err      error
	sentinel error
}

// NewReader returns a Reader of b whose errors wrap sentinel.
func NewReader(b []byte, sentinel error) *Reader {
	return &Reader{b: b, sentinel: sentinel}
}

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) }

// Fail records a failure described by the format, unless one is recorded
// already, so that callers report a broken invariant the same way as a
// malformed byte.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{r.sentinel}, args...)...)
		r.b = nil
	}
}

// Byte reads one byte.
func (r *Reader) Byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.Fail("%s: unexpected end", what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("%s: bad or truncated varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a zigzag varint.
func (r *Reader) Varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Fail("%s: bad or truncated varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Count reads a number of items that each take at least minBytes of the
// bytes left, and fails if that many cannot fit: a corrupt count must not
// size an allocation.
func (r *Reader) Count(what string, minBytes int) int {
	v := r.Uvarint(what)
	if r.err != nil {
		return 0
	}
	if v > uint64(len(r.b)/max(minBytes, 1)) {
		r.Fail("%s: %d does not fit in the %d bytes left", what, v, len(r.b))
		return 0
	}
	return int(v)
}

// Int64 reads a zigzag varint that must lie in [lo, hi].
func (r *Reader) Int64(what string, lo, hi int64) int64 {
	v := r.Varint(what)
	if r.err == nil && (v < lo || v > hi) {
		r.Fail("%s: %d out of [%d, %d]", what, v, lo, hi)
		return 0
	}
	return v
}

// Uint64 reads an unsigned varint that must be at most hi.
func (r *Reader) Uint64(what string, hi uint64) uint64 {
	v := r.Uvarint(what)
	if r.err == nil && v > hi {
		r.Fail("%s: %d is more than %d", what, v, hi)
		return 0
	}
	return v
}

// Bytes reads a length-prefixed byte string, sharing the Reader's memory.
func (r *Reader) Bytes(what string) []byte {
	n := r.Count(what, 1)
	if r.err != nil {
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// Key reads a key written by AppendKey, failing if its value does not fit
// K (an int8 key of 300, say).
func Key[K cmp.Ordered](r *Reader, what string) K {
	var key K
	if r.err != nil {
		return key
	}
	p := unsafe.Pointer(&key)
	switch kind := reflect.TypeFor[K]().Kind(); kind {
	case reflect.String:
		*(*string)(p) = string(r.Bytes(what))
	case reflect.Int:
		*(*int)(p) = int(r.Int64(what, math.MinInt, math.MaxInt))
	case reflect.Int8:
		*(*int8)(p) = int8(r.Int64(what, math.MinInt8, math.MaxInt8))
	case reflect.Int16:
		*(*int16)(p) = int16(r.Int64(what, math.MinInt16, math.MaxInt16))
	case reflect.Int32:
		*(*int32)(p) = int32(r.Int64(what, math.MinInt32, math.MaxInt32))
	case reflect.Int64:
		*(*int64)(p) = r.Varint(what)
	case reflect.Uint:
		*(*uint)(p) = uint(r.Uint64(what, math.MaxUint))
	case reflect.Uint8:
		*(*uint8)(p) = uint8(r.Uint64(what, math.MaxUint8))
	case reflect.Uint16:
		*(*uint16)(p) = uint16(r.Uint64(what, math.MaxUint16))
	case reflect.Uint32:
		*(*uint32)(p) = uint32(r.Uint64(what, math.MaxUint32))
	case reflect.Uint64:
		*(*uint64)(p) = r.Uvarint(what)
	case reflect.Uintptr:
		*(*uintptr)(p) = uintptr(r.Uint64(what, uint64(^uintptr(0))))
	case reflect.Float32:
		if len(r.b) < 4 {
			r.Fail("%s: unexpected end", what)
			break
		}
		*(*float32)(p) = math.Float32frombits(binary.LittleEndian.Uint32(r.b))
		r.b = r.b[4:]
	case reflect.Float64:
		if len(r.b) < 8 {
			r.Fail("%s: unexpected end", what)
			break
		}
		*(*float64)(p) = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
	default:
		r.Fail("%s: unsupported key kind %v", what, kind)
	}
	return key
}

// Ascending reports whether key may follow prev in an encoding's sorted list
// of distinct keys. Equal keys are refused (a key written twice would be
// counted twice) except NaNs, which a map-like structure holds as distinct
// keys that all compare equal.
func Ascending[K cmp.Ordered](prev, key K) bool {
	c := cmp.Compare(prev, key)
	return c < 0 || c == 0 && key != key
}
