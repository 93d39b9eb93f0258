// Package topk holds counting structures that answer "which keys are the most
// frequent": Exact, which counts every key, and SpaceSaving, which keeps a
// bounded number of counters and says how far off each count may be.
//
// Top reports results as Entry values in the same order for every structure:
// count descending, then key ascending, so results are deterministic and can
// be compared directly in tests. All visits every count without sorting.
//
// No structure is safe for concurrent use; each type's doc says which
// methods only read it.
package topk

import (
	"cmp"
	"errors"
)

// Entry is one key's count as a structure reports it: Count is an upper bound
// on the key's true count and Err a bound on how much it overstates it, so
// the true count lies in [Count-Err, Count]. Err is 0 for exact structures.
type Entry[K cmp.Ordered] struct {
	Key   K
	Count int64
	Err   int64
}

// less reports whether a ranks before b in a Top result: higher count first,
// then smaller key.
func less[K cmp.Ordered](a, b Entry[K]) bool {
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	return cmp.Less(a.Key, b.Key)
}

// ErrInvalidOption is wrapped by every error a constructor returns for a bad
// argument, so callers can test for it with errors.Is.
var ErrInvalidOption = errors.New("topk: invalid option")
