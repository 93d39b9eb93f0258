// Package topk holds counting structures that answer "which keys are the most
// frequent": Exact, which counts every key, and SpaceSaving, which keeps a
// bounded number of counters and says how wrong each one can be.
//
// Every structure reports its results as Entry values in the same order:
// count descending, then key ascending, so results are deterministic and can
// be compared directly in tests.
package topk

import (
	"cmp"
	"errors"
)

// Entry is one key's count. The true count lies in [Count-Err, Count]; Err is
// 0 for exact structures.
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
