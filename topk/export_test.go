package topk

import "cmp"

// MemBytes exposes memBytes to the external benchmarks, which live in package
// topk_test because internal/baseline imports topk.
func MemBytes[K cmp.Ordered](s *SpaceSaving[K]) int { return s.memBytes() }
