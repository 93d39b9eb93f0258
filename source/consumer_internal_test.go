package source

import (
	"cmp"
	"math/big"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Each retry pause lies in [d/2, d] for d = base doubled per attempt, capped.
func TestBackoffBounds(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		base := time.Duration(rapid.Int64Range(1, int64(time.Second)).Draw(rt, "base"))
		limit := base + time.Duration(rapid.Int64Range(0, int64(time.Minute)).Draw(rt, "extra"))
		attempt := rapid.IntRange(0, 100).Draw(rt, "attempt")
		d := base
		for range attempt {
			if d >= limit {
				break
			}
			d *= 2
		}
		d = min(d, limit)
		if got := backoff(base, limit, attempt); got < d/2 || got > d {
			rt.Fatalf("backoff(%v, %v, %d) = %v, want in [%v, %v]", base, limit, attempt, got, d/2, d)
		}
	})
}

// Sequences compare as the decimal integers they are, then by sub-sequence.
func TestSequenceCompareIsNumeric(t *testing.T) {
	digits := rapid.StringMatching(`[1-9][0-9]{0,60}`)
	rapid.Check(t, func(rt *rapid.T) {
		a, b := digits.Draw(rt, "a"), digits.Draw(rt, "b")
		sa, sb := rapid.Int64Range(0, 3).Draw(rt, "subA"), rapid.Int64Range(0, 3).Draw(rt, "subB")
		x, _ := new(big.Int).SetString(a, 10)
		y, _ := new(big.Int).SetString(b, 10)
		want := x.Cmp(y)
		if want == 0 {
			want = cmp.Compare(sa, sb)
		}
		if got := (Sequence{a, sa}).Compare(Sequence{b, sb}); got != want {
			rt.Fatalf("Sequence{%s, %d}.Compare(Sequence{%s, %d}) = %d, want %d", a, sa, b, sb, got, want)
		}
	})
}
