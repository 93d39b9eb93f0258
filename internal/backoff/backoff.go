// Package backoff is streamtop's one retry policy: capped exponential backoff
// with jitter, a sleep that honours its context, and a retry loop built from
// the two. Every adapter that retries a throttled or failing call uses it, so
// the policy is decided in one place.
package backoff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy is capped exponential backoff with "equal jitter": before retry n
// (0 for the first) it waits a random time between half and all of
// min(Max, Base·2ⁿ). Half fixed keeps a retry from coming back at once; half
// random spreads out the retries of many clients throttled together.
//
// A Policy is a plain value, safe to copy and to use from many goroutines.
// The zero value never waits. Delay costs O(1) and one draw from math/rand/v2's
// shared source.
type Policy struct {
	Base, Max time.Duration
}

// New returns Policy{base, max} if it is usable: 0 < base <= max. It is
// what every adapter's WithBackoff option sets, so its error names that
// option and both values, and wraps invalid, the adapter's ErrInvalidOption.
func New(base, max time.Duration, invalid error) (Policy, error) {
	if base <= 0 || max < base {
		return Policy{}, fmt.Errorf("%w: WithBackoff(%v, %v): want 0 < base <= max", invalid, base, max)
	}
	return Policy{Base: base, Max: max}, nil
}

// Ceiling is the longest wait before retry n: min(Max, Base·2ⁿ), or Base for
// a negative n. It never overflows, whatever n.
func (p Policy) Ceiling(n int) time.Duration {
	n = max(n, 0)
	// Base·2ⁿ <= Max exactly when Base <= Max>>n, and then the shift cannot
	// overflow; a shift of 63 or more would clear Max>>n anyway.
	if n < 63 && p.Base <= p.Max>>n {
		return p.Base << n
	}
	return max(p.Max, p.Base)
}

// Delay returns the wait before retry n: a random duration in
// [Ceiling(n)/2, Ceiling(n)].
func (p Policy) Delay(n int) time.Duration {
	d := p.Ceiling(n)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits d, or until ctx ends, whichever comes first, and returns
// ctx.Err() in the second case. A d of zero or less returns ctx.Err() at
// once. It waits on a timer of package time, so tests run it in a
// testing/synctest bubble without waiting.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry calls call until it succeeds, fails with an error that retryable
// rejects, or has been called attempts times (attempts < 1: no bound),
// sleeping p.Delay(n) before retry n. It returns the last call's results and
// the number of calls made. When ctx ends during a wait it returns the zero T
// and ctx.Err(). So an error that retryable accepts means that every attempt
// failed so: callers report it as exhausted retries.
//
// retryable should reject every error once ctx has ended, if the call's own
// errors do not say so already.
func Retry[T any](ctx context.Context, p Policy, attempts int, retryable func(error) bool, call func(context.Context) (T, error)) (T, int, error) {
	for n := 1; ; n++ {
		v, err := call(ctx)
		if err == nil || !retryable(err) || (attempts >= 1 && n >= attempts) {
			return v, n, err
		}
		if err := Sleep(ctx, p.Delay(n-1)); err != nil {
			var zero T
			return zero, n, err
		}
	}
}
