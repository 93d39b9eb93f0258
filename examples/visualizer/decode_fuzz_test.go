package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeVisit: whatever a record holds, decodeVisit does not panic,
// leaves the record as it was, and reads it exactly as encoding/json does
// (see decodeVisit's doc). As a plain test it runs the seeds below and the
// inputs kept under testdata/fuzz/FuzzDecodeVisit; with -fuzz it looks for
// more.
func FuzzDecodeVisit(f *testing.F) {
	for _, res := range resources {
		for _, ref := range referrers {
			f.Add([]byte(visitPrefix + res + visitMid + ref + visitSuffix))
		}
	}
	valid := visitPrefix + "/index.html" + visitMid + "http://www.google.com" + visitSuffix
	// Every way a record near the producer's form can go wrong: cut short,
	// one byte changed, the separators out of place, escapes and odd bytes
	// where the fast path must step aside, other JSON that encoding/json
	// still reads as a visit, and JSON that is not a visit.
	for i := range len(valid) {
		f.Add([]byte(valid[:i]))
		flipped := []byte(valid)
		flipped[i] ^= 0x20
		f.Add(flipped)
	}
	for _, s := range []string{
		`{"resource":"/a\"b","referrer":"r"}`,
		`{"resource":"/a\\","referrer":"r"}`,
		`{"resource":"\u002findex.html","referrer":"r"}`,
		`{"resource":"/a` + "\n" + `","referrer":"r"}`,
		`{"resource":"/a` + "\x7f" + `","referrer":"r"}`,
		`{"resource":"/a` + "\xff\xfe" + `","referrer":"r"}`,
		`{"resource":"/é","referrer":"ü"}`,
		`{"resource":"` + visitMid + `","referrer":"r"}`,
		`{"resource":"/a","referrer":"` + visitMid + `"}`,
		`{"resource":"/a","referrer":"r"}"}`,
		`{"resource":"/a","referrer":"r","resource":"/b"}`,
		`{"resource":"/a","referrer":"r","extra":"x"}`,
		`{"RESOURCE":"/a","Referrer":"r"}`,
		`{"referrer":"r","resource":"/a"}`,
		` {"resource":"/a","referrer":"r"} `,
		`{"resource":"/a","referrer":"r"}{}`,
		`{"resource":"","referrer":"r"}`,
		`{"resource":"/a","referrer":""}`,
		`{"resource":null,"referrer":"r"}`,
		`{"resource":1,"referrer":"r"}`,
		`{"resource":["/a"],"referrer":"r"}`,
		`{"resource":{"a":1},"referrer":"r"}`,
		`{"resource":"/a"}`,
		`["/a","r"]`,
		`null`,
		`"x"`,
		``,
		`{`,
		`{"resource":"/a","referrer":"r"`,
		`{"resource":"` + strings.Repeat("x", 5000) + `","referrer":"r"}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		wantRes, wantRef, wantOK := referenceVisit(data)
		// The fuzzer's bytes are read-only; the decoder gets a buffer of its
		// own, to check that it leaves it alone and keeps nothing of it.
		buf := bytes.Clone(data)
		// A fresh names table, so the result depends on data alone; the
		// second call finds the names the first one kept.
		var n names
		for range 2 {
			res, ref, ok := n.decodeVisit(buf)
			if !bytes.Equal(buf, data) {
				t.Fatalf("decodeVisit changed its input %q to %q", data, buf)
			}
			if res != wantRes || ref != wantRef || ok != wantOK {
				t.Fatalf("decodeVisit(%q) = %q, %q, %v; encoding/json says %q, %q, %v",
					data, res, ref, ok, wantRes, wantRef, wantOK)
			}
		}
		res, ref, ok := n.decodeVisit(buf)
		// The names outlive the record: a consumer may reuse its buffers.
		for i := range buf {
			buf[i] = 'X'
		}
		if res != wantRes || ref != wantRef {
			t.Fatalf("the names decoded from %q changed with the record's buffer: %q, %q", data, res, ref)
		}
		// An accepted visit written back by encoding/json reads the same.
		if ok {
			again, err := json.Marshal(visit{Resource: res, Referrer: ref})
			if err != nil {
				t.Fatal(err)
			}
			if r2, f2, ok2 := n.decodeVisit(again); !ok2 || r2 != res || f2 != ref {
				t.Fatalf("%q re-encoded as %q reads %q, %q, %v", data, again, r2, f2, ok2)
			}
		}
	})
}
