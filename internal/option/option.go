// Package option applies functional options the one way every streamtop
// constructor does: in the order given, stopping at the first error, and
// refusing a nil option with an error that wraps the package's
// ErrInvalidOption. Each option checks its own argument when applied and
// names itself and the value in its error, so the constructor has nothing
// left to validate afterwards.
package option

import (
	"fmt"
	"time"
)

// Apply applies opts to cfg in order through apply (usually a method
// expression such as Option.apply). A nil option stops it with an error
// wrapping invalid; so does the first option that fails, whose error is
// returned as it is.
func Apply[O comparable, C any](cfg *C, invalid error, opts []O, apply func(O, *C) error) error {
	var none O
	for i, o := range opts {
		if o == none {
			return fmt.Errorf("%w: option %d of %d is nil", invalid, i+1, len(opts))
		}
		if err := apply(o, cfg); err != nil {
			return err
		}
	}
	return nil
}

// Positive sets *dst to d, the argument of the option called name, if d is
// positive; otherwise it returns an error wrapping invalid that names the
// option and d. It is the rule of every duration option that has no use
// for zero: a retention, a TTL, a poll interval.
func Positive(dst *time.Duration, invalid error, name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: %s(%v): want > 0", invalid, name, d)
	}
	*dst = d
	return nil
}

// Clock sets *dst to now, the argument of a WithClock option, unless now is
// nil, which is an error wrapping invalid. A func() time.Time is the one
// shape of a clock in streamtop's options: what stamps or judges data time
// (arrival, expiry) and so is the user's to set.
func Clock(dst *func() time.Time, invalid error, now func() time.Time) error {
	if now == nil {
		return fmt.Errorf("%w: WithClock(nil)", invalid)
	}
	*dst = now
	return nil
}
