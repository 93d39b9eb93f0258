package memstream

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"testing"

	"pgregory.net/rapid"
)

func TestHashKeyArithmetic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := hashKey{rapid.Uint64().Draw(t, "hi"), rapid.Uint64().Draw(t, "lo")}
		b := hashKey{rapid.Uint64().Draw(t, "hi2"), rapid.Uint64().Draw(t, "lo2")}
		if got, want := a.cmp(b), a.big().Cmp(b.big()); got != want {
			t.Fatalf("cmp(%s, %s) = %d, want %d", a, b, got, want)
		}
		if back, err := parseHashKey(a.String()); err != nil || back != a {
			t.Fatalf("parseHashKey(%s) = %v, %v", a, back, err)
		}
		if a != maxHashKey && a.next().big().Cmp(new(big.Int).Add(a.big(), big.NewInt(1))) != 0 {
			t.Fatalf("next(%s) = %s", a, a.next())
		}
		if a != (hashKey{}) && a.prev().big().Cmp(new(big.Int).Sub(a.big(), big.NewInt(1))) != 0 {
			t.Fatalf("prev(%s) = %s", a, a.prev())
		}
	})
}

func TestHashOf(t *testing.T) {
	// MD5("") = d41d8cd98f00b204e9800998ecf8427e.
	want, _ := new(big.Int).SetString("d41d8cd98f00b204e9800998ecf8427e", 16)
	if got := hashOf(""); got.big().Cmp(want) != 0 {
		t.Fatalf("hashOf(\"\") = %s, want %s", got, want)
	}
}

func TestEvenRanges(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 1000} {
		r := evenRanges(n)
		if r[0][0] != (hashKey{}) || r[n-1][1] != maxHashKey {
			t.Fatalf("%d ranges span [%s, %s]", n, r[0][0], r[n-1][1])
		}
		for i := 1; i < n; i++ {
			if r[i-1][1].next() != r[i][0] {
				t.Fatalf("%d ranges: gap or overlap between %d and %d", n, i-1, i)
			}
		}
	}
}

// TestKeyCache checks that cached hash keys are MD5's, through both entry
// points, and that the cache stays bounded.
func TestKeyCache(t *testing.T) {
	var c keyCache
	check := func(key string, h hashKey) {
		t.Helper()
		sum := md5.Sum([]byte(key))
		if h.big().Cmp(new(big.Int).SetBytes(sum[:])) != 0 {
			t.Fatalf("hash of %q = %s, not its MD5", key, h)
		}
	}
	for round := range 2 { // the second round hits the cache
		for i := range 100 {
			k := fmt.Sprint("key", i)
			check(k, c.hash(k))
		}
		entries := []Entry{{PartitionKey: "x"}, {PartitionKey: "key7"}, {PartitionKey: "y", ExplicitHashKey: "5"}, {PartitionKey: "x"}}
		hashes := make([]hashKey, len(entries))
		hashes[2] = hashKey{0, 5}
		c.hashAll(entries, hashes)
		for i, e := range entries {
			if e.ExplicitHashKey != "" {
				if hashes[i] != (hashKey{0, 5}) {
					t.Fatalf("round %d: hashAll overwrote an explicit hash key", round)
				}
				continue
			}
			check(e.PartitionKey, hashes[i])
		}
	}
	for i := range keyCacheSize + 10 {
		c.hash(fmt.Sprint("many", i))
	}
	if n := len(c.m); n > keyCacheSize {
		t.Fatalf("cache holds %d keys, more than %d", n, keyCacheSize)
	}
}
