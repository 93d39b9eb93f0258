package kpl

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzFastPath checks that Decode's one-pass path, where it succeeds, gives
// exactly what the general two-pass path gives.
func FuzzFastPath(f *testing.F) {
	var a Aggregator
	for i, pk := range []string{"a", "b", "a", "c"} {
		r := Record{PartitionKey: pk, Data: bytes.Repeat([]byte{byte(i)}, i*70)}
		if i%2 == 1 {
			r.ExplicitHashKey = "1234567890"
		}
		if err := a.Add(r); err != nil {
			f.Fatal(err)
		}
	}
	agg, _ := a.Flush()
	f.Add(agg.Data[len(magic) : len(agg.Data)-16])
	f.Add([]byte{0x0a, 0x01, 'k', 0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow Decoder
		got, ok := fast.decodeInOrder(nil, body)
		if !ok {
			return
		}
		want, err := slow.decodeAnyOrder(nil, body)
		if err != nil {
			t.Fatalf("one pass accepted %x, two passes say %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("one pass %+v, two passes %+v", got, want)
		}
	})
}

// TestFastPathTaken guards the speed of Decode: what the Aggregator writes,
// with indexes and lengths of one to three bytes, takes the one-pass path
// rather than falling back.
func TestFastPathTaken(t *testing.T) {
	a := Aggregator{}
	for i := range 400 {
		n := i % 7 * i * 3
		if i == 5 {
			n = 20000 // a length of three bytes
		}
		r := Record{PartitionKey: "k" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Data: make([]byte, n)}
		if i%2 == 0 {
			r.ExplicitHashKey = "1" + string(rune('0'+i%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i/100))
		}
		if err := a.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	agg, _ := a.Flush()
	body := agg.Data[len(magic) : len(agg.Data)-16]
	var d Decoder
	subs, ok := d.decodeInOrder(nil, body)
	if !ok || len(subs) != 400 {
		t.Fatalf("one pass: ok %v, %d sub-records; want true, 400", ok, len(subs))
	}
}
