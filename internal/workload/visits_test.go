package workload

import (
	"encoding/json"
	"testing"
)

func TestVisitStreamDrifts(t *testing.T) {
	const n, period = 400_000, 200_000
	v := VisitStream(n, period, 1)
	if &VisitStream(n, period, 1)[0] != &v[0] {
		t.Fatal("VisitStream is not cached")
	}
	// The leading referrer of a page must change over one period, or the
	// stream does not drift.
	leaders := map[string]bool{}
	for part := range 8 {
		counts := map[string]int64{}
		for _, x := range v[part*n/8 : (part+1)*n/8] {
			if x.Resource == Resources[0] {
				counts[x.Referrer]++
			}
		}
		leaders[top(counts)] = true
	}
	if len(leaders) < 2 {
		t.Fatalf("one leading referrer over the whole stream: %v", leaders)
	}
	pages := map[string]bool{}
	for _, x := range v {
		pages[x.Resource] = true
	}
	if len(pages) != len(Resources) {
		t.Fatalf("%d pages visited, want %d", len(pages), len(Resources))
	}
}

func TestVisitRecordsDecode(t *testing.T) {
	v := VisitStream(1000, 100, 2)
	recs, keys := VisitRecords(v), VisitKeys(v)
	for i, r := range recs {
		var got Visit
		if err := json.Unmarshal(r, &got); err != nil || got != v[i] {
			t.Fatalf("record %d = %s decodes to %+v, %v; want %+v", i, r, got, err, v[i])
		}
		if want := v[i].Resource + " " + v[i].Referrer; keys[i] != want {
			t.Fatalf("key %d = %q, want %q", i, keys[i], want)
		}
	}
}
