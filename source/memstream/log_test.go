package memstream

import (
	"context"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/source"
)

// TestRecordLog checks the chunked log against a plain slice, with appends
// large enough to cross chunk boundaries, and checks that slices handed out
// earlier never change.
func TestRecordLog(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Small chunks, so a few appends cross many boundaries.
		l := newRecordLog(uint(rapid.IntRange(0, 8).Draw(t, "bits")))
		chunkSize := l.chunkSize()
		// The model: record i has SubSequenceNumber i, so a count is all
		// the model needs.
		var total int64
		var start int64
		type handed struct {
			from int64
			recs []source.Record
		}
		var out []handed
		t.Repeat(map[string]func(*rapid.T){
			"append": func(t *rapid.T) {
				n := rapid.IntRange(0, 2*chunkSize).Draw(t, "n")
				for range n {
					l.append(source.Record{SubSequenceNumber: total})
					total++
				}
			},
			"trim": func(t *rapid.T) {
				start = rapid.Int64Range(start, total).Draw(t, "to")
				l.trimTo(start)
			},
			"slice": func(t *rapid.T) {
				if start == total {
					t.Skip("empty")
				}
				i := rapid.Int64Range(start, total-1).Draw(t, "i")
				max := rapid.IntRange(1, 3*chunkSize).Draw(t, "max")
				got := l.slice(i, max)
				if len(got) == 0 || len(got) > max || cap(got) != len(got) {
					t.Fatalf("slice(%d, %d) has len %d cap %d", i, max, len(got), cap(got))
				}
				// It stops only at a chunk boundary or the end.
				if last := i + int64(len(got)); len(got) < max && last != total && (last-l.first)%int64(chunkSize) != 0 {
					t.Fatalf("slice(%d, %d) stopped at %d, not a chunk boundary", i, max, last)
				}
				out = append(out, handed{i, got})
				if len(out) > 4 {
					out = out[1:]
				}
			},
			"search": func(t *rapid.T) {
				x := rapid.Int64Range(start, total).Draw(t, "x")
				got := l.search(start, func(r *source.Record) bool { return r.SubSequenceNumber >= x })
				if got != x {
					t.Fatalf("search for %d = %d", x, got)
				}
			},
			"": func(t *rapid.T) {
				if l.start != start || l.end != total {
					t.Fatalf("log [%d, %d), want [%d, %d)", l.start, l.end, start, total)
				}
				if l.start < l.end && l.at(l.start).SubSequenceNumber != start {
					t.Fatalf("at(%d) = record %d", l.start, l.at(l.start).SubSequenceNumber)
				}
				if l.start-l.first >= int64(chunkSize) && l.start != l.end {
					t.Fatalf("a fully trimmed chunk is kept: first %d start %d", l.first, l.start)
				}
				for _, h := range out {
					for _, j := range []int{0, len(h.recs) / 2, len(h.recs) - 1} {
						if h.recs[j].SubSequenceNumber != h.from+int64(j) {
							t.Fatalf("a slice handed out at %d changed at %d", h.from, j)
						}
					}
				}
			},
		})
	})
}

// TestMaxRecordsFreesMemory checks the bound WithMaxRecords documents: a
// shard holds at most n records plus one chunk, however many were put.
func TestMaxRecordsFreesMemory(t *testing.T) {
	const n = 1000
	s, err := New(1, WithMaxRecords(n))
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]Entry, 700)
	for i := range batch {
		batch[i] = Entry{PartitionKey: fmt.Sprint(i), Data: []byte("x")}
	}
	sh := s.shards[0]
	for range 200 { // 140,000 records, several chunks' worth
		if _, err := s.PutRecords(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		sh.mu.RLock()
		// Records trimmed but not yet freed sit in the oldest chunk.
		kept, held := sh.log.end-sh.log.start, sh.log.end-sh.log.first
		sh.mu.RUnlock()
		if kept > n || held > n+1<<chunkBits {
			t.Fatalf("shard keeps %d records and holds %d; want at most %d and %d", kept, held, n, n+1<<chunkBits)
		}
	}
}
