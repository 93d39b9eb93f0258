// Package ddbfuzz turns a fuzzer's bytes into DynamoDB items and items back
// into bytes, so fuzz targets for item decoders can start from a corpus of
// real items and let the fuzzer mutate names, types and values.
//
// Every byte string decodes to some item (truncated input ends the item), so
// no fuzz input is wasted on a parse error here. The format is private to
// this package and may change; corpora are seeded with Encode, never written
// by hand.
package ddbfuzz

import (
	"encoding/binary"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Type tags. A tag byte is read modulo numTags, so every byte is some type.
const (
	tagS byte = iota
	tagN
	tagB
	tagBOOL
	tagNULL
	tagSS
	tagNS
	tagBS
	tagL
	tagM
	numTags
)

// maxDepth bounds nesting of lists and maps: deeper ones decode empty, so a
// fuzz input cannot make Decode recurse without end.
const maxDepth = 4

// Decode returns the item data encodes. Attributes appear in the order
// encoded; a later attribute of the same name replaces an earlier one.
func Decode(data []byte) map[string]types.AttributeValue {
	r := reader{data: data}
	item := make(map[string]types.AttributeValue)
	for len(r.data) > 0 {
		name, ok := r.bytes()
		if !ok {
			break
		}
		v, ok := r.value(0)
		if !ok {
			break
		}
		item[string(name)] = v
	}
	return item
}

type reader struct{ data []byte }

func (r *reader) byte() (byte, bool) {
	if len(r.data) == 0 {
		return 0, false
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b, true
}

// bytes reads a length-prefixed byte string; a length past the end of the
// input takes what is left.
func (r *reader) bytes() ([]byte, bool) {
	n, k := binary.Uvarint(r.data)
	if k <= 0 {
		return nil, false
	}
	r.data = r.data[k:]
	if n > uint64(len(r.data)) {
		n = uint64(len(r.data))
	}
	b := r.data[:n:n]
	r.data = r.data[n:]
	return b, true
}

func (r *reader) strings() ([]string, bool) {
	n, ok := r.byte()
	if !ok {
		return nil, false
	}
	out := make([]string, 0, n)
	for range n {
		b, ok := r.bytes()
		if !ok {
			break
		}
		out = append(out, string(b))
	}
	return out, true
}

func (r *reader) value(depth int) (types.AttributeValue, bool) {
	tag, ok := r.byte()
	if !ok {
		return nil, false
	}
	switch tag % numTags {
	case tagS:
		b, ok := r.bytes()
		return &types.AttributeValueMemberS{Value: string(b)}, ok
	case tagN:
		b, ok := r.bytes()
		return &types.AttributeValueMemberN{Value: string(b)}, ok
	case tagB:
		b, ok := r.bytes()
		return &types.AttributeValueMemberB{Value: b}, ok
	case tagBOOL:
		b, ok := r.byte()
		return &types.AttributeValueMemberBOOL{Value: b&1 == 1}, ok
	case tagNULL:
		return &types.AttributeValueMemberNULL{Value: true}, true
	case tagSS:
		ss, ok := r.strings()
		return &types.AttributeValueMemberSS{Value: ss}, ok
	case tagNS:
		ss, ok := r.strings()
		return &types.AttributeValueMemberNS{Value: ss}, ok
	case tagBS:
		ss, ok := r.strings()
		bs := make([][]byte, len(ss))
		for i, s := range ss {
			bs[i] = []byte(s)
		}
		return &types.AttributeValueMemberBS{Value: bs}, ok
	case tagL:
		n, ok := r.byte()
		if !ok {
			return nil, false
		}
		l := &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		for range n {
			if depth >= maxDepth {
				break
			}
			v, ok := r.value(depth + 1)
			if !ok {
				break
			}
			l.Value = append(l.Value, v)
		}
		return l, true
	default: // tagM
		n, ok := r.byte()
		if !ok {
			return nil, false
		}
		m := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
		for range n {
			if depth >= maxDepth {
				break
			}
			name, ok := r.bytes()
			if !ok {
				break
			}
			v, ok := r.value(depth + 1)
			if !ok {
				break
			}
			m.Value[string(name)] = v
		}
		return m, true
	}
}

// Encode returns bytes that Decode reads back as item, for seeding a corpus.
// Attributes are written in name order, so equal items encode equally. Lists,
// maps and sets of more than 255 elements are cut to 255, and nesting deeper
// than Decode reads is dropped.
func Encode(item map[string]types.AttributeValue) []byte {
	var w writer
	for _, name := range slices.Sorted(maps.Keys(item)) {
		w.bytes([]byte(name))
		w.value(item[name], 0)
	}
	return w.buf
}

type writer struct{ buf []byte }

func (w *writer) bytes(b []byte) {
	w.buf = binary.AppendUvarint(w.buf, uint64(len(b)))
	w.buf = append(w.buf, b...)
}

func (w *writer) strings(ss []string) {
	ss = ss[:min(len(ss), 255)]
	w.buf = append(w.buf, byte(len(ss)))
	for _, s := range ss {
		w.bytes([]byte(s))
	}
}

func (w *writer) value(v types.AttributeValue, depth int) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		w.buf = append(w.buf, tagS)
		w.bytes([]byte(v.Value))
	case *types.AttributeValueMemberN:
		w.buf = append(w.buf, tagN)
		w.bytes([]byte(v.Value))
	case *types.AttributeValueMemberB:
		w.buf = append(w.buf, tagB)
		w.bytes(v.Value)
	case *types.AttributeValueMemberBOOL:
		b := byte(0)
		if v.Value {
			b = 1
		}
		w.buf = append(w.buf, tagBOOL, b)
	case *types.AttributeValueMemberSS:
		w.buf = append(w.buf, tagSS)
		w.strings(v.Value)
	case *types.AttributeValueMemberNS:
		w.buf = append(w.buf, tagNS)
		w.strings(v.Value)
	case *types.AttributeValueMemberBS:
		ss := make([]string, len(v.Value))
		for i, b := range v.Value {
			ss[i] = string(b)
		}
		w.buf = append(w.buf, tagBS)
		w.strings(ss)
	case *types.AttributeValueMemberL:
		vs := v.Value[:min(len(v.Value), 255)]
		if depth >= maxDepth {
			vs = nil
		}
		w.buf = append(w.buf, tagL, byte(len(vs)))
		for _, e := range vs {
			w.value(e, depth+1)
		}
	case *types.AttributeValueMemberM:
		names := slices.Sorted(maps.Keys(v.Value))
		names = names[:min(len(names), 255)]
		if depth >= maxDepth {
			names = nil
		}
		w.buf = append(w.buf, tagM, byte(len(names)))
		for _, name := range names {
			w.bytes([]byte(name))
			w.value(v.Value[name], depth+1)
		}
	default: // NULL, and any member type this package does not know
		w.buf = append(w.buf, tagNULL)
	}
}
