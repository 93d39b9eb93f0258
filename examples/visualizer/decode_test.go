package main

import (
	"encoding/json"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// referenceVisit is what the processor must accept and count: encoding/json's
// reading of the record.
func referenceVisit(data []byte) (string, string, bool) {
	var v visit
	if err := json.Unmarshal(data, &v); err != nil || v.Resource == "" || v.Referrer == "" {
		return "", "", false
	}
	return v.Resource, v.Referrer, true
}

// TestDecodeVisitMatchesEncodingJSON: the fast path never changes a result.
// Records are drawn near the producer's form (its exact form with drawn
// contents, escapes, quotes, control bytes, invalid UTF-8, the separators
// themselves, extra fields, truncation) where a shortcut would go wrong.
func TestDecodeVisitMatchesEncodingJSON(t *testing.T) {
	piece := rapid.SampledFrom([]string{
		"", "/index.html", "http://www.amazon.com", `a"b`, `a\"b`, `\u0041`, `\n`, "\n", "\t",
		"é", "\xff", visitMid, visitSuffix, visitPrefix, " ", "x", `\`, `","resource":"`,
	})
	str := rapid.Custom(func(t *rapid.T) string {
		return strings.Join(rapid.SliceOfN(piece, 0, 4).Draw(t, "pieces"), "")
	})
	var n names
	rapid.Check(t, func(t *rapid.T) {
		res, ref := str.Draw(t, "res"), str.Draw(t, "ref")
		var data string
		switch rapid.IntRange(0, 4).Draw(t, "shape") {
		case 0: // the producer's form, with drawn contents
			data = visitPrefix + res + visitMid + ref + visitSuffix
		case 1: // the same fields, the other way round or spaced out
			data = `{ "referrer" : "` + ref + `" , "resource" : "` + res + `" }`
		case 2: // an extra field
			data = visitPrefix + res + visitMid + ref + `","extra":"` + str.Draw(t, "extra") + visitSuffix
		case 3: // cut short
			full := visitPrefix + res + visitMid + ref + visitSuffix
			data = full[:rapid.IntRange(0, len(full)).Draw(t, "cut")]
		default:
			data = str.Draw(t, "junk")
		}
		gotRes, gotRef, gotOK := n.decodeVisit([]byte(data))
		wantRes, wantRef, wantOK := referenceVisit([]byte(data))
		if gotRes != wantRes || gotRef != wantRef || gotOK != wantOK {
			t.Fatalf("decodeVisit(%q) = %q, %q, %v; encoding/json says %q, %q, %v",
				data, gotRes, gotRef, gotOK, wantRes, wantRef, wantOK)
		}
	})
}

func TestDecodeVisitAllocatesNothingForKnownNames(t *testing.T) {
	var n names
	data := []byte(`{"resource":"/index.html","referrer":"http://www.google.com"}`)
	n.decodeVisit(data)
	if a := testing.AllocsPerRun(100, func() { n.decodeVisit(data) }); a != 0 {
		t.Fatalf("%v allocations per known record, want 0", a)
	}
}

func TestNamesBounded(t *testing.T) {
	var n names
	for i := range maxNames + 100 {
		n.get([]byte(strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune(i))))
	}
	if len(n) > maxNames {
		t.Fatalf("%d names kept, bound %d", len(n), maxNames)
	}
}
