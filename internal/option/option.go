// Package option applies functional options the one way every streamtop
// constructor does: in the order given, stopping at the first error, and
// refusing a nil option with an error that wraps the package's
// ErrInvalidOption. Each option checks its own argument when applied and
// names itself and the value in its error, so the constructor has nothing
// left to validate afterwards.
package option

import "fmt"

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
