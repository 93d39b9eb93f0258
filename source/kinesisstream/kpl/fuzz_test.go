package kpl_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// FuzzDecode feeds the decoder arbitrary records, and arbitrary bodies with a
// good checksum (so that the fuzzer gets past the MD5). It never panics, its
// errors are the typed ones, and what it accepts re-encodes to the same
// sub-records.
func FuzzDecode(f *testing.F) {
	var a kpl.Aggregator
	valid := aggregate(f, &a, []kpl.Record{
		{PartitionKey: "a", Data: []byte("x")},
		{PartitionKey: "b", ExplicitHashKey: "12345", Data: nil},
		{PartitionKey: "a", ExplicitHashKey: "12345", Data: []byte("yz")},
	})[0].Data
	f.Add(valid)
	f.Add(valid[4 : len(valid)-16])
	f.Add(goodBody)
	f.Add(cat(pkTable("a"), record(pkIndex(0), data("x"), tag(bytesField(1, []byte("k")))), varintField(9, 1)))
	f.Add([]byte("plain"))

	f.Fuzz(func(t *testing.T, in []byte) {
		check(t, in)
		check(t, wrap(in))
	})
}

func check(t *testing.T, in []byte) {
	var d kpl.Decoder
	subs, err := d.Decode(nil, in)
	if err != nil {
		if !errors.Is(err, kpl.ErrNotAggregated) && !errors.Is(err, kpl.ErrChecksum) && !errors.As(err, new(*kpl.FormatError)) {
			t.Fatalf("untyped error %v", err)
		}
		if subs != nil {
			t.Fatalf("error %v with sub-records %v", err, subs)
		}
		return
	}
	a := kpl.Aggregator{MaxSize: 1 << 30}
	for _, r := range subs {
		if err := a.Add(r); err != nil {
			if errors.Is(err, kpl.ErrInvalidRecord) {
				return // a key that Kinesis would refuse: nothing to compare
			}
			t.Fatalf("re-encoding %+v: %v", r, err)
		}
	}
	agg, ok := a.Flush()
	if !ok {
		if len(subs) != 0 {
			t.Fatalf("Flush after %d records reported nothing", len(subs))
		}
		return
	}
	again, err := d.Decode(nil, agg.Data)
	if err != nil {
		t.Fatalf("decoding the re-encoded record: %v", err)
	}
	if diff := cmp.Diff(subs, again, equateEmpty); diff != "" {
		t.Fatalf("re-encoded sub-records differ (-first +again):\n%s", diff)
	}
}
