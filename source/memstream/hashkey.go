package memstream

import (
	"math/big"
	"sync"

	"github.com/streamtop/streamtop/internal/hashkey"
)

// hashKey is an unsigned 128-bit hash key, the coordinate Kinesis routes
// records by. Two words instead of a big.Int keep routing free of
// allocations on the Put path.
type hashKey struct{ hi, lo uint64 }

// maxHashKey is 2^128 - 1, the top of the hash key space.
var maxHashKey = hashKey{^uint64(0), ^uint64(0)}

// hashOf returns the hash key of a partition key as Kinesis computes it.
func hashOf(partitionKey string) hashKey {
	k := hashkey.Of(partitionKey)
	return hashKey{k.Hi, k.Lo}
}

func (a hashKey) cmp(b hashKey) int {
	return hashkey.Key{Hi: a.hi, Lo: a.lo}.Compare(hashkey.Key{Hi: b.hi, Lo: b.lo})
}

// next returns a+1; the caller makes sure a is not maxHashKey.
func (a hashKey) next() hashKey {
	a.lo++
	if a.lo == 0 {
		a.hi++
	}
	return a
}

// prev returns a-1; the caller makes sure a is not zero.
func (a hashKey) prev() hashKey {
	if a.lo == 0 {
		a.hi--
	}
	a.lo--
	return a
}

func (a hashKey) big() *big.Int {
	hi := new(big.Int).SetUint64(a.hi)
	return hi.Lsh(hi, 64).Or(hi, new(big.Int).SetUint64(a.lo))
}

func fromBig(b *big.Int) hashKey {
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0)))
	hi := new(big.Int).Rsh(b, 64)
	return hashKey{hi.Uint64(), lo.Uint64()}
}

// String writes the key in decimal, as Kinesis does in its shard ranges.
func (a hashKey) String() string { return a.big().String() }

// parseHashKey reads a decimal hash key. It accepts exactly what Kinesis
// accepts: digits only, no sign, at most 2^128 - 1.
func parseHashKey(s string) (hashKey, error) {
	k, err := hashkey.Parse(s)
	return hashKey{k.Hi, k.Lo}, err
}

// evenRanges cuts the hash key space into n contiguous ranges as CreateStream
// does: each 2^128/n wide (rounded down), the last one reaching 2^128 - 1.
func evenRanges(n int) [][2]hashKey {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([][2]hashKey, n)
	lo := new(big.Int)
	for i := range n {
		hi := new(big.Int).Add(lo, step)
		hi.Sub(hi, big.NewInt(1))
		if i == n-1 {
			hi = maxHashKey.big()
		}
		out[i] = [2]hashKey{fromBig(lo), fromBig(hi)}
		lo = new(big.Int).Add(hi, big.NewInt(1))
	}
	return out
}

// keyCacheSize bounds keyCache. When full it starts over, so a shifting set
// of hot keys finds its way back in.
const keyCacheSize = 1 << 16

// keyCache remembers the hash keys of recent partition keys. MD5 costs an
// order of magnitude more than a map lookup, and streams repeat their keys
// (referrers, user IDs, device IDs). The zero value is ready; it is safe for
// concurrent use.
type keyCache struct {
	mu sync.RWMutex
	m  map[string]hashKey
}

func (c *keyCache) hash(partitionKey string) hashKey {
	c.mu.RLock()
	h, ok := c.m[partitionKey]
	c.mu.RUnlock()
	if ok {
		return h
	}
	h = hashOf(partitionKey)
	c.mu.Lock()
	c.storeLocked(partitionKey, h)
	c.mu.Unlock()
	return h
}

// hashAll sets hashes[i] for every entry routed by its partition key,
// taking each lock at most once for the batch.
func (c *keyCache) hashAll(entries []Entry, hashes []hashKey) {
	var missing []int
	c.mu.RLock()
	for i, e := range entries {
		if e.ExplicitHashKey != "" {
			continue
		}
		h, ok := c.m[e.PartitionKey]
		if ok {
			hashes[i] = h
		} else {
			missing = append(missing, i)
		}
	}
	c.mu.RUnlock()
	if len(missing) == 0 {
		return
	}
	for _, i := range missing {
		hashes[i] = hashOf(entries[i].PartitionKey)
	}
	c.mu.Lock()
	for _, i := range missing {
		c.storeLocked(entries[i].PartitionKey, hashes[i])
	}
	c.mu.Unlock()
}

func (c *keyCache) storeLocked(partitionKey string, h hashKey) {
	if c.m == nil {
		c.m = make(map[string]hashKey)
	}
	if len(c.m) >= keyCacheSize {
		clear(c.m)
	}
	c.m[partitionKey] = h
}
