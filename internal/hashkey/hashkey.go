// Package hashkey computes and reads the 128-bit hash keys Kinesis routes
// records by, for memstream (which routes like Kinesis) and kinesisstream
// (which drops de-aggregated records outside their shard's range).
package hashkey

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Key is an unsigned 128-bit hash key. Two words instead of a big.Int keep
// routing and filtering free of allocations. The zero value is the key 0.
type Key struct{ Hi, Lo uint64 }

// Max is 2^128 - 1, the top of the hash key space.
var Max = Key{^uint64(0), ^uint64(0)}

// Of returns the hash key of a partition key: its MD5 digest read as a
// big-endian 128-bit integer, as Kinesis computes it. It costs one MD5 of
// the key and allocates nothing.
func Of(partitionKey string) Key {
	sum := md5.Sum([]byte(partitionKey))
	return Key{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// Compare returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Key) Compare(b Key) int {
	switch {
	case a.Hi < b.Hi:
		return -1
	case a.Hi > b.Hi:
		return 1
	case a.Lo < b.Lo:
		return -1
	case a.Lo > b.Lo:
		return 1
	}
	return 0
}

// Parse reads a decimal hash key. It accepts exactly what Kinesis accepts:
// digits only, no sign, at most 39 of them, at most 2^128 - 1.
func Parse(s string) (Key, error) {
	bad := fmt.Errorf("hash key %q is not a decimal number in [0, 2^128-1]", s)
	if s == "" || len(s) > 39 {
		return Key{}, bad
	}
	var k Key
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return Key{}, bad
		}
		// k = k*10 + d, refusing a carry out of the top word.
		over, hi := bits.Mul64(k.Hi, 10)
		carry, lo := bits.Mul64(k.Lo, 10)
		hi, c1 := bits.Add64(hi, carry, 0)
		lo, c2 := bits.Add64(lo, uint64(d), 0)
		hi, c3 := bits.Add64(hi, c2, 0)
		if over != 0 || c1 != 0 || c3 != 0 {
			return Key{}, bad
		}
		k = Key{hi, lo}
	}
	return k, nil
}

// Next returns a+1; Max.Next() wraps to 0.
func (a Key) Next() Key {
	lo, carry := bits.Add64(a.Lo, 1, 0)
	return Key{a.Hi + carry, lo}
}
