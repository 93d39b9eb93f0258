package memstream

import "github.com/streamtop/streamtop/source"

// Records are stored in chunks of 2^chunkBits so that an append never copies
// the records before it (one growing slice would move every record several
// times, with write barriers, as the shard grows) and a trim frees whole
// chunks.
const (
	chunkBits = 14
	// firstChunkCap keeps a shard that holds a handful of records small:
	// its first chunk grows by doubling up to the chunk size.
	firstChunkCap = 64
)

// recordLog is the append-only record sequence of one shard. Records are
// numbered from 0 for the first ever appended; trimming drops a prefix but
// never renumbers. Every chunk but the last holds exactly chunkSize records,
// so a record is found by arithmetic.
//
// Elements are never written after they are appended: readers hold
// sub-slices of chunks without any lock once Read returns.
type recordLog struct {
	bits   uint // log2 of the chunk size: chunkBits, or less in tests
	chunks [][]source.Record
	first  int64 // number of chunks[0][0]
	start  int64 // number of the oldest retained record
	end    int64 // one past the number of the newest record
}

func newRecordLog(bits uint) recordLog { return recordLog{bits: bits} }

func (l *recordLog) chunkSize() int { return 1 << l.bits }

func (l *recordLog) at(i int64) *source.Record {
	off := i - l.first
	return &l.chunks[off>>l.bits][off&(1<<l.bits-1)]
}

func (l *recordLog) append(r source.Record) {
	n := len(l.chunks)
	if n == 0 || len(l.chunks[n-1]) == l.chunkSize() {
		// Only a shard's first chunk starts small: one that filled a
		// chunk is busy, and growing each chunk by doubling would copy
		// every record once more.
		c := l.chunkSize()
		if n == 0 {
			c = min(firstChunkCap, c)
		}
		l.chunks = append(l.chunks, make([]source.Record, 0, c))
		n++
	}
	last := l.chunks[n-1]
	if len(last) == cap(last) {
		// Grow by hand, so the chunk never exceeds its size. Readers
		// keep the old array alive as long as they need it.
		grown := make([]source.Record, len(last), min(2*cap(last), l.chunkSize()))
		copy(grown, last)
		last = grown
	}
	l.chunks[n-1] = append(last, r)
	l.end++
}

// trimTo drops the records numbered below i (start <= i <= end).
func (l *recordLog) trimTo(i int64) {
	l.start = i
	if l.start == l.end {
		clear(l.chunks)
		l.chunks = l.chunks[:0]
		l.first = l.end
		return
	}
	for l.start-l.first >= int64(l.chunkSize()) {
		l.chunks[0] = nil
		l.chunks = l.chunks[1:]
		l.first += int64(l.chunkSize())
	}
}

// slice returns up to max records from number i (start <= i < end), never
// crossing a chunk boundary, with capacity equal to length so an append by
// the caller cannot write into the log.
func (l *recordLog) slice(i int64, max int) []source.Record {
	off := i - l.first
	ch := l.chunks[off>>l.bits]
	k := int(off & (1<<l.bits - 1))
	n := min(len(ch)-k, max)
	return ch[k : k+n : k+n]
}

// search returns the smallest number in [lo, end) whose record satisfies f,
// or end; f must be false then true along the log.
func (l *recordLog) search(lo int64, f func(*source.Record) bool) int64 {
	hi := l.end
	for lo < hi {
		mid := lo + (hi-lo)/2
		if f(l.at(mid)) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
