package hashkey

import (
	"math/big"
	"testing"
)

func TestParse(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616",
		"170141183460469231731687303715884105728", max.String(), "0000000000000000000000000000000000000007"[1:]} {
		k, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%s): %v", s, err)
		}
		want, _ := new(big.Int).SetString(s, 10)
		got := new(big.Int).Lsh(new(big.Int).SetUint64(k.Hi), 64)
		got.Or(got, new(big.Int).SetUint64(k.Lo))
		if got.Cmp(want) != 0 {
			t.Errorf("Parse(%s) = %s", s, got)
		}
	}
	over := new(big.Int).Add(max, big.NewInt(1)).String()
	for _, s := range []string{"", "-1", "+1", "1a", over, "999999999999999999999999999999999999999", "0000000000000000000000000000000000000000"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
}

func TestOfAndCompare(t *testing.T) {
	// MD5("") = d41d8cd98f00b204e9800998ecf8427e.
	if got, want := Of(""), (Key{0xd41d8cd98f00b204, 0xe9800998ecf8427e}); got != want {
		t.Fatalf("Of(\"\") = %x, want %x", got, want)
	}
	if (Key{1, 0}).Compare(Key{0, ^uint64(0)}) != 1 || (Key{0, 1}).Compare(Key{0, 2}) != -1 || Max.Compare(Max) != 0 {
		t.Fatal("Compare is wrong")
	}
}
