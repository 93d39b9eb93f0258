package bench

import (
	"encoding/json"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/internal/workload"
)

// reference is what decodeVisit must agree with: encoding/json.
func reference(data []byte) (res, ref string, ok bool) {
	var v workload.Visit
	if err := json.Unmarshal(data, &v); err != nil {
		return "", "", false
	}
	return v.Resource, v.Referrer, v.Resource != "" && v.Referrer != ""
}

func TestDecodeVisitTable(t *testing.T) {
	tests := []struct {
		in       string
		res, ref string
		ok       bool
	}{
		{`{"resource":"/a","referrer":"http://b"}`, "/a", "http://b", true},
		{` { "referrer" : "r" , "resource" : "p" } `, "p", "r", true},
		{`{"resource":"p","referrer":"r","resource":"q"}`, "q", "r", true}, // last wins, as in encoding/json
		{`{"Resource":"p","REFERRER":"r"}`, "p", "r", true},                // case-insensitive names
		{`{"resource":"p\u0041","referrer":"r"}`, "pA", "r", true},         // escapes
		{`{"resource":"pé","referrer":"r"}`, "pé", "r", true},
		{`{"resource":"p","referrer":"r","n":1}`, "p", "r", true}, // unknown fields
		{`{"resource":"p"}`, "", "", false},
		{`{"resource":"","referrer":"r"}`, "", "", false},
		{`{}`, "", "", false},
		{``, "", "", false},
		{`{"resource":"p","referrer":"r"`, "", "", false},
		{`{"resource":"p","referrer":"r"}x`, "", "", false},
		{`{"resource":"p",,"referrer":"r"}`, "", "", false},
		{`{"resource":1,"referrer":"r"}`, "", "", false},
		{`["resource","referrer"]`, "", "", false},
		{`{"resource":"p` + "\x01" + `","referrer":"r"}`, "", "", false},
		{`null`, "", "", false},
	}
	var in interner
	for _, tt := range tests {
		res, ref, ok := decodeVisit([]byte(tt.in), &in)
		if res != tt.res || ref != tt.ref || ok != tt.ok {
			t.Errorf("decodeVisit(%s) = %q, %q, %v; want %q, %q, %v", tt.in, res, ref, ok, tt.res, tt.ref, tt.ok)
		}
		if wr, wf, wok := reference([]byte(tt.in)); wok != ok || ok && (wr != res || wf != ref) {
			t.Errorf("decodeVisit(%s) = %q, %q, %v; encoding/json says %q, %q, %v", tt.in, res, ref, ok, wr, wf, wok)
		}
	}
}

// TestDecodeVisitMatchesEncodingJSON: whatever the bytes, the fast path and
// encoding/json agree.
func TestDecodeVisitMatchesEncodingJSON(t *testing.T) {
	var in interner
	rapid.Check(t, func(t *rapid.T) {
		var data []byte
		if rapid.Bool().Draw(t, "valid") {
			v := workload.Visit{Resource: rapid.String().Draw(t, "res"), Referrer: rapid.String().Draw(t, "ref")}
			data, _ = json.Marshal(v)
			if rapid.Bool().Draw(t, "mutate") && len(data) > 0 {
				i := rapid.IntRange(0, len(data)-1).Draw(t, "at")
				data[i] = rapid.SampledFrom([]byte(`{}[]":, \x00a\\`)).Draw(t, "byte")
			}
		} else {
			data = rapid.SliceOf(rapid.SampledFrom([]byte(`{}":, resfr\\`))).Draw(t, "bytes")
		}
		res, ref, ok := decodeVisit(data, &in)
		wr, wf, wok := reference(data)
		if ok != wok || ok && (res != wr || ref != wf) {
			t.Fatalf("decodeVisit(%q) = %q, %q, %v; encoding/json says %q, %q, %v", data, res, ref, ok, wr, wf, wok)
		}
	})
}

func TestDecodeVisitDoesNotAllocate(t *testing.T) {
	recs := workload.VisitRecords(workload.VisitStream(1000, 100, 3))
	var in interner
	for _, r := range recs {
		decodeVisit(r, &in)
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		decodeVisit(recs[i%len(recs)], &in)
		i++
	}); a != 0 {
		t.Fatalf("decodeVisit allocates %v times per record after warm-up", a)
	}
}
