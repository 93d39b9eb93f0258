package dynamostore

import (
	"context"
	"fmt"

	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/ddb"
)

// ThrottledError reports that DynamoDB throttled an operation on every
// attempt the Store was allowed to make. Err is the last throttling error, so
// errors.As still finds the SDK's own type under it. It is a plain value,
// made only by the Store; the lease is unchanged, so the caller may retry
// later with the same view.
type ThrottledError struct {
	Op       string // the Store method, e.g. "renew"
	Key      string // the lease key, empty for List
	Attempts int
	Err      error
}

// Error names the operation, the lease and the attempts, then the last
// throttling error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("checkpoint/dynamostore: %s %q: throttled on all %d attempts: %v", e.Op, e.Key, e.Attempts, e.Err)
}

// Unwrap returns Err, the last throttling error.
func (e *ThrottledError) Unwrap() error { return e.Err }

// retry calls call until it succeeds, fails with an error that is not
// throttling, or has been throttled s.attempts times, which it reports as a
// *ThrottledError.
func retry[T any](ctx context.Context, s *Store, op, key string, call func(context.Context) (T, error)) (T, error) {
	v, n, err := backoff.Retry(ctx, s.backoff, s.attempts, ddb.IsThrottle, call)
	if ddb.IsThrottle(err) {
		var zero T
		return zero, &ThrottledError{Op: op, Key: key, Attempts: n, Err: err}
	}
	return v, err
}
