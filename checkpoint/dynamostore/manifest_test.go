package dynamostore

import (
	"errors"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/internal/chunk"
)

// A manifest reads back as written, whatever its generations and chunks.
func TestManifestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		gens := rapid.SliceOfNDistinct(rapid.StringMatching(`[0-9a-f]{32}`), 1, 5, rapid.ID).Draw(t, "gens")
		chunks := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) chunkRef {
			c := chunkRef{
				gen: rapid.SampledFrom(gens).Draw(t, "gen"),
				i:   rapid.IntRange(0, 5000).Draw(t, "i"),
				n:   rapid.IntRange(1, chunk.Max).Draw(t, "n"),
			}
			copy(c.sum[:], rapid.SliceOfN(rapid.Byte(), sumSize, sumSize).Draw(t, "sum"))
			return c
		}), 1, 40).Draw(t, "chunks")
		m := &manifest{chunks: chunks}
		for _, c := range chunks {
			m.size += c.n
		}
		got, err := decodeChunks(encodeChunks(m), m.size)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, chunks) {
			t.Fatalf("decoded %v, want %v", got, chunks)
		}
		// A size the chunks do not add up to is refused.
		if _, err := decodeChunks(encodeChunks(m), m.size+1); !errors.Is(err, errManifest) {
			t.Fatalf("a manifest for one byte more: %v, want errManifest", err)
		}
	})
}

// A manifest is read from the table, where anything may have written it:
// bytes that are not one are an error, never a panic, and what decodes adds
// up to the state's size in chunks within the chunker's bounds.
func FuzzDecodeChunks(f *testing.F) {
	m := &manifest{size: 5000, chunks: []chunkRef{
		{gen: "00112233445566778899aabbccddeeff", i: 0, n: 4096},
		{gen: "ffeeddccbbaa99887766554433221100", i: 3, n: 904},
	}}
	f.Add(encodeChunks(m), 5000)
	f.Add([]byte{1, 0}, 1)
	f.Fuzz(func(t *testing.T, b []byte, size int) {
		chunks, err := decodeChunks(b, size)
		if err != nil {
			if !errors.Is(err, errManifest) {
				t.Fatalf("error %v does not wrap errManifest", err)
			}
			return
		}
		total := 0
		for _, c := range chunks {
			if c.n <= 0 || c.n > chunk.Max || len(c.gen) != 32 {
				t.Fatalf("chunk %+v out of bounds", c)
			}
			total += c.n
		}
		if total != size {
			t.Fatalf("chunks of %d bytes for a state of %d", total, size)
		}
	})
}
