package backoff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"
)

// policy draws a valid Policy anywhere in Duration's range, so shifts that
// would overflow are drawn too.
func policy(t *rapid.T) Policy {
	base := time.Duration(rapid.Int64Range(1, math.MaxInt64).Draw(t, "base"))
	max := time.Duration(rapid.Int64Range(int64(base), math.MaxInt64).Draw(t, "max"))
	return Policy{Base: base, Max: max}
}

// ceiling is Ceiling's specification, computed on big integers, which
// cannot overflow: min(Max, Base·2ⁿ).
func ceiling(p Policy, n int) time.Duration {
	e := new(big.Int).Lsh(big.NewInt(int64(p.Base)), uint(min(max(n, 0), 100)))
	if e.Cmp(big.NewInt(int64(p.Max))) < 0 {
		return time.Duration(e.Int64())
	}
	return p.Max
}

func TestDelayInBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := policy(t)
		n := rapid.OneOf(rapid.IntRange(-3, 70), rapid.Int()).Draw(t, "n")
		want := ceiling(p, n)
		if got := p.Ceiling(n); got != want {
			t.Fatalf("%+v.Ceiling(%d) = %v; want %v", p, n, got, want)
		}
		if d := p.Delay(n); d < want/2 || d > want {
			t.Fatalf("%+v.Delay(%d) = %v; want in [%v, %v]", p, n, d, want/2, want)
		}
	})
}

func TestCeilingGrowsThenStays(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := policy(t)
		prev := p.Ceiling(0)
		if prev != p.Base {
			t.Fatalf("%+v.Ceiling(0) = %v; want Base", p, prev)
		}
		for n := 1; n < 80; n++ {
			c := p.Ceiling(n)
			if c < prev || c > p.Max || (prev < p.Max && c != min(2*prev, p.Max) && prev <= p.Max/2) {
				t.Fatalf("%+v.Ceiling(%d) = %v after %v", p, n, c, prev)
			}
			prev = c
		}
		if prev != p.Max {
			t.Fatalf("%+v.Ceiling(79) = %v; want Max", p, prev)
		}
	})
}

func TestZeroPolicyNeverWaits(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 31, 32, 64, math.MaxInt} {
		if d := (Policy{}).Delay(n); d != 0 {
			t.Errorf("Policy{}.Delay(%d) = %v; want 0", n, d)
		}
	}
}

func TestNew(t *testing.T) {
	invalid := errors.New("test: invalid option")
	for _, tc := range []struct {
		base, max time.Duration
		ok        bool
	}{
		{time.Millisecond, time.Second, true},
		{time.Second, time.Second, true},
		{0, 0, false},
		{0, time.Second, false},
		{-time.Second, time.Second, false},
		{time.Second, time.Millisecond, false},
	} {
		p, err := New(tc.base, tc.max, invalid)
		switch {
		case tc.ok && (err != nil || p != Policy{tc.base, tc.max}):
			t.Errorf("New(%v, %v) = %+v, %v; want the policy", tc.base, tc.max, p, err)
		case !tc.ok && (!errors.Is(err, invalid) || !strings.Contains(err.Error(), fmt.Sprintf("WithBackoff(%v, %v)", tc.base, tc.max))):
			t.Errorf("New(%v, %v) = %v; want an error wrapping the sentinel and naming the option", tc.base, tc.max, err)
		}
	}
}

var errRetry, errFatal = errors.New("again"), errors.New("fatal")

func isRetry(err error) bool { return errors.Is(err, errRetry) }

// TestRetry checks Retry against a model: it makes min(attempts, failures +
// 1) calls (failures + 1 when attempts < 1) and returns the last call's
// result; the waits between them are each within the policy's bounds.
func TestRetry(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		attempts := rapid.IntRange(-1, 6).Draw(rt, "attempts")
		failures := rapid.IntRange(0, 8).Draw(rt, "retryable failures")
		final := rapid.SampledFrom([]error{nil, errFatal}).Draw(rt, "then")
		p := Policy{Base: time.Second, Max: 4 * time.Second}
		// The bubble's goroutine must not panic, as rapid's Fatalf does: it
		// records what it saw, and rapid judges it outside.
		var (
			v, n, calls int
			err         error
			waits       []time.Duration
		)
		synctest.Test(t, func(t *testing.T) {
			var last time.Time
			v, n, err = Retry(t.Context(), p, attempts, isRetry, func(context.Context) (int, error) {
				if calls > 0 {
					waits = append(waits, time.Since(last))
				}
				calls, last = calls+1, time.Now()
				if calls <= failures {
					return calls, errRetry
				}
				return calls, final
			})
		})
		want, wantErr := failures+1, final
		if attempts >= 1 && failures >= attempts {
			want, wantErr = attempts, errRetry
		}
		if calls != want || n != want || v != want || !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
			rt.Fatalf("Retry = (%d, %d, %v) after %d calls; want (%d, %d, %v)", v, n, err, calls, want, want, wantErr)
		}
		for i, d := range waits {
			if c := p.Ceiling(i); d < c/2 || d > c {
				rt.Fatalf("waited %v before retry %d; want within [%v, %v]", d, i, c/2, c)
			}
		}
	})
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Minute)
		defer cancel()
		calls := 0
		v, n, err := Retry(ctx, Policy{Base: time.Hour, Max: time.Hour}, 0, isRetry, func(context.Context) (int, error) {
			calls++
			return 7, errRetry
		})
		// Waits of 30 to 60 minutes: the second or third wait outlasts ctx.
		if v != 0 || n != calls || calls < 2 || calls > 3 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Retry = (%d, %d, %v) after %d calls; want (0, calls, DeadlineExceeded) after 2 or 3", v, n, err, calls)
		}
	})
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(t.Context(), time.Minute); err != nil || time.Since(start) != time.Minute {
			t.Fatalf("Sleep(1m) = %v after %v; want nil after 1m", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start = time.Now()
		if err := Sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Sleep(1m) with a 1s deadline = %v after %v; want DeadlineExceeded after 1s", err, time.Since(start))
		}
		if err := Sleep(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Sleep(0) on an ended context = %v; want its error", err)
		}
		if err := Sleep(t.Context(), -time.Second); err != nil {
			t.Fatalf("Sleep(-1s) = %v; want nil at once", err)
		}
	})
}
