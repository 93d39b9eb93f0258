package kpl_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// Protobuf by hand, written independently of the package's encoder.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func key(num, wire int) []byte { return binary.AppendUvarint(nil, uint64(num<<3|wire)) }

func varintField(num int, v uint64) []byte { return binary.AppendUvarint(key(num, 0), v) }

func bytesField(num int, v []byte) []byte {
	return append(binary.AppendUvarint(key(num, 2), uint64(len(v))), v...)
}

func pkTable(s string) []byte        { return bytesField(1, []byte(s)) }
func ehkTable(s string) []byte       { return bytesField(2, []byte(s)) }
func record(fields ...[]byte) []byte { return bytesField(3, cat(fields...)) }
func pkIndex(i uint64) []byte        { return varintField(1, i) }
func ehkIndex(i uint64) []byte       { return varintField(2, i) }
func data(s string) []byte           { return bytesField(3, []byte(s)) }
func tag(fields ...[]byte) []byte    { return bytesField(4, cat(fields...)) }

// A body holding two sub-records, for the cases that break it.
var goodBody = cat(pkTable("a"), pkTable("b"), ehkTable("7"),
	record(pkIndex(0), data("x")),
	record(pkIndex(1), ehkIndex(0), data("yz")))

var goodSubs = []kpl.Record{{PartitionKey: "a", Data: []byte("x")}, {PartitionKey: "b", ExplicitHashKey: "7", Data: []byte("yz")}}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want []kpl.Record
	}{
		{"two sub-records", goodBody, goodSubs},
		{"no sub-records", nil, nil},
		{"tables after records", cat(record(pkIndex(0), data("x")), pkTable("a")), []kpl.Record{{PartitionKey: "a", Data: []byte("x")}}},
		{"empty data and key", cat(pkTable(""), record(pkIndex(0), data(""))), []kpl.Record{{}}},
		{"unknown fields of every wire type are skipped", cat(
			varintField(9, 300), key(10, 1), make([]byte, 8), key(11, 5), make([]byte, 4), bytesField(12, []byte("?")),
			pkTable("a"),
			record(varintField(9, 1), pkIndex(0), key(15, 5), make([]byte, 4), data("x"), bytesField(99, nil))),
			[]kpl.Record{{PartitionKey: "a", Data: []byte("x")}}},
		{"a known field number with another wire type is unknown", cat(
			varintField(1, 5), pkTable("a"), record(pkIndex(0), varintField(3, 1), data("x"))),
			[]kpl.Record{{PartitionKey: "a", Data: []byte("x")}}},
		{"tags are dropped", cat(pkTable("a"), record(pkIndex(0), data("x"), tag(bytesField(1, []byte("k")), bytesField(2, []byte("v"))), tag(bytesField(1, nil)))),
			[]kpl.Record{{PartitionKey: "a", Data: []byte("x")}}},
		{"the last of repeated scalar fields wins", cat(pkTable("a"), pkTable("b"), record(pkIndex(0), data("x"), pkIndex(1), data("y"))),
			[]kpl.Record{{PartitionKey: "b", Data: []byte("y")}}},
		{"non-minimal varints", cat(pkTable("a"), bytesField(3, cat([]byte{0x08, 0x80, 0x80, 0x00}, data("x")))),
			[]kpl.Record{{PartitionKey: "a", Data: []byte("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d kpl.Decoder
			got, err := d.Decode(nil, wrap(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Fatalf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	good := wrap(goodBody)
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, kpl.ErrNotAggregated},
		{"plain text", []byte("hello, world, this is a plain record"), kpl.ErrNotAggregated},
		{"magic alone", good[:4], kpl.ErrNotAggregated},
		{"magic and 15 bytes", good[:19], kpl.ErrNotAggregated},
		{"wrong magic", flip(good, 0), kpl.ErrNotAggregated},

		{"body byte changed", flip(good, 6), kpl.ErrChecksum},
		{"checksum byte changed", flip(good, -1), kpl.ErrChecksum},
		{"last byte cut", good[:len(good)-1], kpl.ErrChecksum},
		{"trailing garbage after the checksum", append(bytes.Clone(good), 0), kpl.ErrChecksum},

		{"body truncated in a field", wrap(goodBody[:len(goodBody)-1]), kpl.ErrMalformed},
		{"body truncated in a key", wrap(cat(goodBody, []byte{0x80})), kpl.ErrMalformed},
		{"trailing garbage in the body", wrap(cat(goodBody, []byte{0xff, 0xff})), kpl.ErrMalformed},
		{"varint of 11 bytes", wrap(cat(key(9, 0), bytes.Repeat([]byte{0x80}, 10), []byte{0})), kpl.ErrMalformed},
		{"varint past 64 bits", wrap(cat(key(9, 0), bytes.Repeat([]byte{0xff}, 9), []byte{0x02})), kpl.ErrMalformed},
		{"length past the end", wrap(cat(key(1, 2), binary.AppendUvarint(nil, 5), []byte("ab"))), kpl.ErrMalformed},
		{"length of 2^63", wrap(cat(key(1, 2), binary.AppendUvarint(nil, 1<<63), []byte("ab"))), kpl.ErrMalformed},
		{"length of 2^64-1", wrap(cat(key(3, 2), binary.AppendUvarint(nil, 1<<64-1))), kpl.ErrMalformed},
		{"fixed64 cut", wrap(cat(key(9, 1), make([]byte, 7))), kpl.ErrMalformed},
		{"group", wrap(cat(key(9, 3), key(9, 4))), kpl.ErrMalformed},
		{"wire type 7", wrap(key(9, 7)), kpl.ErrMalformed},
		{"field number 0", wrap(varintField(0, 1)), kpl.ErrMalformed},
		{"partition key index past the table", wrap(cat(pkTable("a"), record(pkIndex(1), data("x")))), kpl.ErrMalformed},
		{"partition key index 2^64-1", wrap(cat(pkTable("a"), record(pkIndex(1<<64-1), data("x")))), kpl.ErrMalformed},
		{"partition key index with no table", wrap(record(pkIndex(0), data("x"))), kpl.ErrMalformed},
		{"hash key index past the table", wrap(cat(pkTable("a"), ehkTable("1"), record(pkIndex(0), ehkIndex(1), data("x")))), kpl.ErrMalformed},
		{"hash key index with no table", wrap(cat(pkTable("a"), record(pkIndex(0), ehkIndex(0), data("x")))), kpl.ErrMalformed},
		{"record without a partition key index", wrap(cat(pkTable("a"), record(data("x")))), kpl.ErrMalformed},
		{"record without data", wrap(cat(pkTable("a"), record(pkIndex(0)))), kpl.ErrMalformed},
		{"record field running past its record", wrap(cat(pkTable("a"), bytesField(3, cat(pkIndex(0), key(3, 2), []byte{5}, []byte("x"))), []byte("yyyy"))), kpl.ErrMalformed},
		{"tag without key", wrap(cat(pkTable("a"), record(pkIndex(0), data("x"), tag(bytesField(2, []byte("v")))))), kpl.ErrMalformed},
		{"tag with a bad field", wrap(cat(pkTable("a"), record(pkIndex(0), data("x"), tag(bytesField(1, nil), key(9, 3))))), kpl.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d kpl.Decoder
			before := []kpl.Record{{PartitionKey: "kept"}}
			got, err := d.Decode(before, tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
			if errors.Is(err, kpl.ErrMalformed) {
				var fe *kpl.FormatError
				if !errors.As(err, &fe) || fe.Offset < 4 || fe.Offset > len(tt.data)-16 {
					t.Fatalf("error %v: want a *FormatError with an offset within the body", err)
				}
			}
			if len(got) != 1 || got[0].PartitionKey != "kept" {
				t.Fatalf("Decode changed dst on error: %+v", got)
			}
			if kpl.IsAggregated(tt.data) == errors.Is(err, kpl.ErrNotAggregated) {
				t.Fatalf("IsAggregated = %v with error %v", kpl.IsAggregated(tt.data), err)
			}
		})
	}
}

// SkipChecksum reads a record whose checksum is wrong, and still refuses a
// malformed body.
func TestDecodeSkipChecksum(t *testing.T) {
	bad := wrap(goodBody)
	bad[len(bad)-1] ^= 1
	d := kpl.Decoder{SkipChecksum: true}
	got, err := d.Decode(nil, bad)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goodSubs, got, equateEmpty); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if _, err := d.Decode(nil, wrap(goodBody[:len(goodBody)-1])); !errors.Is(err, kpl.ErrMalformed) {
		t.Fatalf("truncated body with SkipChecksum: %v, want ErrMalformed", err)
	}
}

// A Decoder reused across records gives each its own keys, including when
// the tables repeat (and are shared) or change.
func TestDecoderReuse(t *testing.T) {
	var d kpl.Decoder
	bodies := [][]byte{
		goodBody,
		goodBody,
		cat(pkTable("c"), record(pkIndex(0), data("1"))),
		goodBody,
	}
	var all []kpl.Record
	for _, b := range bodies {
		var err error
		if all, err = d.Decode(all, wrap(b)); err != nil {
			t.Fatal(err)
		}
	}
	want := cat2(goodSubs, goodSubs, []kpl.Record{{PartitionKey: "c", Data: []byte("1")}}, goodSubs)
	if diff := cmp.Diff(want, all, equateEmpty); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func cat2(parts ...[]kpl.Record) []kpl.Record {
	var s []kpl.Record
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}
