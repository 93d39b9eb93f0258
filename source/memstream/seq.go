package memstream

import (
	"strconv"
	"strings"
)

// A sequence number is counterWidth digits of the stream's counter followed
// by shardWidth digits of the shard's number, all zero-padded, so that
// fixed-width strings sort as the counters do.
const (
	counterWidth = 20 // any uint64
	shardWidth   = 12 // as in "shardId-000000000000"
	seqWidth     = counterWidth + shardWidth
)

func formatSeq(n, shard uint64) string {
	var b [seqWidth]byte
	return string(appendSeq(b[:0], n, shard))
}

// formatSeqs formats count consecutive sequence numbers from first into one
// string, so a batch costs one allocation instead of one per record.
func formatSeqs(first uint64, count int, shard uint64) string {
	var sb strings.Builder
	sb.Grow(count * seqWidth)
	var b [seqWidth]byte
	for i := range count {
		sb.Write(appendSeq(b[:0], first+uint64(i), shard))
	}
	return sb.String()
}

func appendSeq(b []byte, n, shard uint64) []byte {
	b = appendPadded(b, n, counterWidth)
	return appendPadded(b, shard, shardWidth)
}

func appendPadded(b []byte, n uint64, width int) []byte {
	var d [counterWidth]byte
	digits := strconv.AppendUint(d[:0], n, 10)
	for range width - len(digits) {
		b = append(b, '0')
	}
	return append(b, digits...)
}

// parseSeq reads a sequence number as memstream writes it: exactly seqWidth
// digits.
func parseSeq(s string) (n, shard uint64, ok bool) {
	if len(s) != seqWidth {
		return 0, 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, false
		}
	}
	n, err1 := strconv.ParseUint(s[:counterWidth], 10, 64)
	shard, err2 := strconv.ParseUint(s[counterWidth:], 10, 64)
	return n, shard, err1 == nil && err2 == nil
}
