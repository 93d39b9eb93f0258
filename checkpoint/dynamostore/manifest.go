package dynamostore

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/streamtop/streamtop/internal/chunk"
)

// sumSize is how much of a chunk's SHA-256 a manifest keeps: enough that two
// different chunks of one lease never share a name by chance.
const sumSize = 16

// chunkRef is one chunk of a state: the chunk item that holds it (written by
// generation gen as its i-th), its length and its checksum.
type chunkRef struct {
	gen string // hex, as in the item's key
	i   int
	n   int
	sum [sumSize]byte
}

func (c chunkRef) part() string { return fmt.Sprintf("c#%s#%d", c.gen, c.i) }

// manifest is a generation's header: the state's chunks in order.
type manifest struct {
	gen     string
	counter int64 // the lease counter its checkpoint was conditional on
	size    int
	chunks  []chunkRef
}

// parts returns the set of chunk items m names.
func (m *manifest) parts() map[string]bool {
	set := map[string]bool{}
	if m != nil {
		for _, c := range m.chunks {
			set[c.part()] = true
		}
	}
	return set
}

// manifestVersion leads an encoded manifest.
const manifestVersion = 1

var errManifest = errors.New("corrupt manifest")

// encodeChunks writes m's chunks: the version; the generations that wrote
// them, as 16 raw bytes each; then per chunk the index of its generation in
// that list, its index there, its length and its checksum.
func encodeChunks(m *manifest) []byte {
	gens := map[string]int{}
	var order []string
	for _, c := range m.chunks {
		if _, ok := gens[c.gen]; !ok {
			gens[c.gen] = len(order)
			order = append(order, c.gen)
		}
	}
	b := make([]byte, 0, 2+len(order)*16+len(m.chunks)*(sumSize+6))
	b = append(b, manifestVersion)
	b = binary.AppendUvarint(b, uint64(len(order)))
	for _, g := range order {
		b, _ = hex.AppendDecode(b, []byte(g)) // generations are 32 hex digits
	}
	b = binary.AppendUvarint(b, uint64(len(m.chunks)))
	for _, c := range m.chunks {
		b = binary.AppendUvarint(b, uint64(gens[c.gen]))
		b = binary.AppendUvarint(b, uint64(c.i))
		b = binary.AppendUvarint(b, uint64(c.n))
		b = append(b, c.sum[:]...)
	}
	return b
}

// decodeChunks reads what encodeChunks wrote, for a state of size bytes:
// the chunks must add up to it, each within the chunker's bounds. Bytes that
// do not are an error, never a panic.
func decodeChunks(b []byte, size int) ([]chunkRef, error) {
	fail := func(what string) ([]chunkRef, error) {
		return nil, fmt.Errorf("%w: %s", errManifest, what)
	}
	if size <= 0 || size > MaxTableStateSize {
		return fail(fmt.Sprintf("state size %d", size))
	}
	if len(b) == 0 || b[0] != manifestVersion {
		return fail("version")
	}
	b = b[1:]
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	ngens, ok := uvarint()
	if !ok || ngens == 0 || ngens > uint64(len(b))/16 {
		return fail("generation count")
	}
	gens := make([]string, ngens)
	for i := range gens {
		gens[i] = hex.EncodeToString(b[:16])
		b = b[16:]
	}
	nchunks, ok := uvarint()
	if !ok || nchunks == 0 || nchunks > uint64(size) || nchunks > uint64(len(b))/(3+sumSize) {
		return fail("chunk count")
	}
	chunks := make([]chunkRef, nchunks)
	total := 0
	for k := range chunks {
		g, ok1 := uvarint()
		i, ok2 := uvarint()
		n, ok3 := uvarint()
		if !ok1 || !ok2 || !ok3 || g >= ngens || i > MaxTableStateSize || n == 0 || n > chunk.Max || len(b) < sumSize {
			return fail(fmt.Sprintf("chunk %d", k))
		}
		c := chunkRef{gen: gens[g], i: int(i), n: int(n)}
		copy(c.sum[:], b)
		b = b[sumSize:]
		total += c.n
		if total > size {
			return fail("chunks longer than the state")
		}
		chunks[k] = c
	}
	if total != size || len(b) != 0 {
		return fail(fmt.Sprintf("chunks of %d bytes for a state of %d, %d bytes left over", total, size, len(b)))
	}
	return chunks, nil
}
