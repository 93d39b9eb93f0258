package kpl_test

import (
	"bytes"
	"crypto/md5"
	"errors"
	"math/big"
	"reflect"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// equateEmpty compares records with nil and empty slices equal, and data
// with bytes.Equal: cmp's element by element walk took seconds on the
// megabytes of the interop tests.
var equateEmpty = cmp.Options{
	cmp.Comparer(bytes.Equal),
	cmp.FilterPath(func(p cmp.Path) bool { return p.Last().Type() != reflect.TypeFor[[]byte]() }, cmpopts.EquateEmpty()),
}

// aggregate packs records with a, flushing when full, and returns the
// aggregated records. It checks what the Aggregator promises about sizes.
func aggregate(t interface {
	Helper()
	Fatalf(string, ...any)
}, a *kpl.Aggregator, records []kpl.Record) []kpl.Record {
	t.Helper()
	max := a.MaxSize
	if max == 0 {
		max = kpl.MaxRecordSize
	}
	var out []kpl.Record
	flush := func() {
		size := a.Size()
		agg, ok := a.Flush()
		if !ok {
			t.Fatalf("Flush with %d records reported nothing", a.Len())
		}
		if got := len(agg.Data) + len(agg.PartitionKey); got != size {
			t.Fatalf("Size() = %d before Flush, but the record is %d bytes with its key", size, got)
		}
		if size > max {
			t.Fatalf("aggregated record of %d bytes, limit %d", size, max)
		}
		out = append(out, agg)
	}
	for i, r := range records {
		want := a.SizeWith(r)
		err := a.Add(r)
		if errors.Is(err, kpl.ErrFull) {
			flush()
			want = a.SizeWith(r)
			err = a.Add(r)
		}
		if err != nil {
			t.Fatalf("Add(record %d): %v", i, err)
		}
		if got := a.Size(); got != want {
			t.Fatalf("SizeWith(record %d) = %d, Size() after Add = %d", i, want, got)
		}
	}
	if a.Len() > 0 {
		flush()
	}
	return out
}

func decodeAll(t interface {
	Helper()
	Fatalf(string, ...any)
}, aggs []kpl.Record) []kpl.Record {
	t.Helper()
	var d kpl.Decoder
	var got []kpl.Record
	for i, agg := range aggs {
		if !kpl.IsAggregated(agg.Data) {
			t.Fatalf("aggregated record %d is not IsAggregated", i)
		}
		var err error
		got, err = d.Decode(got, agg.Data)
		if err != nil {
			t.Fatalf("Decode(aggregated record %d): %v", i, err)
		}
	}
	return got
}

// genRecord draws user records that Kinesis accepts, with keys drawn from a
// few so that tables are shared, and data of any length including none.
func genRecord(keys []string) *rapid.Generator[kpl.Record] {
	return rapid.Custom(func(t *rapid.T) kpl.Record {
		r := kpl.Record{
			PartitionKey: rapid.OneOf(rapid.SampledFrom(keys), rapid.StringN(1, 20, -1)).Draw(t, "pk"),
			Data:         rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "data"),
		}
		if rapid.Bool().Draw(t, "hasEHK") {
			r.ExplicitHashKey = rapid.OneOf(
				rapid.SampledFrom([]string{"0", "1", "340282366920938463463374607431768211455"}),
				rapid.Custom(func(t *rapid.T) string {
					return strconv.FormatUint(rapid.Uint64().Draw(t, "h"), 10)
				}),
			).Draw(t, "ehk")
		}
		return r
	})
}

func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SliceOfN(rapid.StringN(1, 8, -1), 1, 4).Draw(t, "keys")
		records := rapid.SliceOfN(genRecord(keys), 0, 60).Draw(t, "records")
		a := &kpl.Aggregator{MaxSize: rapid.IntRange(400, 5000).Draw(t, "max")}
		// Use the Aggregator twice, to check that Flush leaves it clean.
		for range 2 {
			aggs := aggregate(t, a, records)
			for i, agg := range aggs {
				if agg.PartitionKey == "" {
					t.Fatalf("aggregated record %d has no partition key", i)
				}
			}
			if len(aggs) > 0 && (aggs[0].PartitionKey != records[0].PartitionKey || aggs[0].ExplicitHashKey != records[0].ExplicitHashKey) {
				t.Fatalf("aggregated record keys %q/%q, want the first record's %q/%q",
					aggs[0].PartitionKey, aggs[0].ExplicitHashKey, records[0].PartitionKey, records[0].ExplicitHashKey)
			}
			got := decodeAll(t, aggs)
			if diff := cmp.Diff(records, got, equateEmpty); diff != "" {
				t.Fatalf("decode(encode(records)) differs (-want +got):\n%s", diff)
			}
		}
	})
}

func TestDecodeAppendsAndAliases(t *testing.T) {
	var a kpl.Aggregator
	in := []kpl.Record{{PartitionKey: "k", Data: []byte("one")}, {PartitionKey: "k", Data: []byte("two")}}
	agg := aggregate(t, &a, in)[0]
	prefix := []kpl.Record{{PartitionKey: "before"}}
	var d kpl.Decoder
	got, err := d.Decode(prefix, agg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(prefix[:1:1], in...), got, equateEmpty); diff != "" {
		t.Fatalf("Decode(prefix, ...) (-want +got):\n%s", diff)
	}
	// Appending to one sub-record's data must not spill into the next.
	_ = append(got[1].Data, 'X')
	if string(got[2].Data) != "two" {
		t.Fatalf("appending to sub-record 0 changed sub-record 1 to %q", got[2].Data)
	}
}

func TestAddErrors(t *testing.T) {
	a := kpl.Aggregator{MaxSize: 100}
	tests := []struct {
		name string
		r    kpl.Record
		want error
	}{
		{"empty partition key", kpl.Record{}, kpl.ErrInvalidRecord},
		{"partition key of 257 characters", kpl.Record{PartitionKey: string(make([]byte, 257))}, kpl.ErrInvalidRecord},
		{"hash key not decimal", kpl.Record{PartitionKey: "k", ExplicitHashKey: "12a"}, kpl.ErrInvalidRecord},
		{"hash key of 2^128", kpl.Record{PartitionKey: "k", ExplicitHashKey: new(big.Int).Lsh(big.NewInt(1), 128).String()}, kpl.ErrInvalidRecord},
		{"too large alone", kpl.Record{PartitionKey: "k", Data: make([]byte, 100)}, kpl.ErrTooLarge},
	}
	for _, tt := range tests {
		if err := a.Add(tt.r); !errors.Is(err, tt.want) {
			t.Errorf("%s: Add = %v, want %v", tt.name, err, tt.want)
		}
	}
	if a.Len() != 0 || a.Size() != 0 {
		t.Fatalf("after failed Adds: Len %d, Size %d, want 0, 0", a.Len(), a.Size())
	}
	// 256 characters of two bytes each are 512 bytes, and allowed.
	b := kpl.Aggregator{}
	if err := b.Add(kpl.Record{PartitionKey: string([]rune(repeat('é', 256)))}); err != nil {
		t.Fatalf("partition key of 256 two-byte characters: %v", err)
	}
	fill := kpl.Record{PartitionKey: "k", Data: make([]byte, 60)}
	if err := a.Add(fill); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(fill); !errors.Is(err, kpl.ErrFull) {
		t.Fatalf("second record past MaxSize: Add = %v, want ErrFull", err)
	}
	if a.Len() != 1 {
		t.Fatalf("Len after ErrFull = %d, want 1", a.Len())
	}
}

func repeat(r rune, n int) []rune {
	s := make([]rune, n)
	for i := range s {
		s[i] = r
	}
	return s
}

// The exact size limit: a record that makes the aggregate exactly MaxSize
// bytes, partition key included, fits; one byte more does not.
func TestMaxSizeExact(t *testing.T) {
	for _, max := range []int{200, 1000, kpl.MaxRecordSize} {
		a := kpl.Aggregator{MaxSize: max}
		if err := a.Add(kpl.Record{PartitionKey: "first", Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		r := kpl.Record{PartitionKey: "second"}
		// Grow the data to the largest that fits: SizeWith is not linear
		// in it (varint lengths), so search.
		lo, hi := 0, max
		for lo < hi {
			mid := (lo + hi + 1) / 2
			r.Data = make([]byte, mid)
			if a.SizeWith(r) <= max {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		r.Data = make([]byte, lo+1)
		if err := a.Add(r); !errors.Is(err, kpl.ErrFull) {
			t.Fatalf("max %d: a record one byte over: Add = %v, want ErrFull", max, err)
		}
		r.Data = make([]byte, lo)
		if err := a.Add(r); err != nil {
			t.Fatalf("max %d: the largest record that fits: %v", max, err)
		}
		agg, _ := a.Flush()
		// One more data byte can lengthen two varints (data and record
		// lengths), so the largest fit may fall short of max by 2.
		if got := len(agg.Data) + len(agg.PartitionKey); got > max || got < max-2 {
			t.Fatalf("max %d: the fullest aggregate is %d bytes", max, got)
		}
	}
}

// wrap makes an aggregated record of a protobuf body, with a good checksum.
func wrap(body []byte) []byte {
	sum := md5.Sum(body)
	b := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, body...)
	return append(b, sum[:]...)
}

// Many keys and long data: indexes and lengths of two and three bytes, which
// the decoder's one-pass path reads differently from one-byte ones.
func TestRoundTripWide(t *testing.T) {
	var records []kpl.Record
	for i := range 3000 {
		n := i % 50
		if i%5 == 0 {
			n = i * i % 40000
		}
		r := kpl.Record{PartitionKey: "key-" + strconv.Itoa(i%1500), Data: bytes.Repeat([]byte{byte(i)}, n)}
		if i%3 == 0 {
			r.ExplicitHashKey = strconv.Itoa(i % 700)
		}
		records = append(records, r)
	}
	var a kpl.Aggregator
	aggs := aggregate(t, &a, records)
	if len(aggs) < 2 || len(records)/len(aggs) < 200 {
		t.Fatalf("%d aggregated records for %d: want several, of over 200 each", len(aggs), len(records))
	}
	if diff := cmp.Diff(records, decodeAll(t, aggs), equateEmpty); diff != "" {
		t.Fatalf("decode(encode(records)) differs (-want +got):\n%s", diff)
	}
}
