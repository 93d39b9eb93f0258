package dynamostore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamtop/streamtop/internal/awserr"
	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/ddb"
)

// ThrottledError reports that DynamoDB throttled an operation on every
// attempt the Store was allowed to make. Err is the last throttling error, so
// errors.As still finds the SDK's own type under it. It is a plain value,
// made only by the Store; the lease is unchanged, so the caller may retry
// later with the same view.
type ThrottledError struct {
	Table    string // the lease table
	Op       string // the Store method, e.g. "renew"
	Key      string // the lease key, empty for List
	Attempts int
	Err      error
}

// Error names the table, the operation, the lease (if any) and the
// attempts, then the last throttling error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("checkpoint/dynamostore: %s: throttled on all %d attempts: %v", where(e.Table, e.Op, e.Key), e.Attempts, e.Err)
}

// where names an operation for an error message: the table, the
// operation, and the lease key when there is one.
func where(table, op, key string) string {
	if key == "" {
		return fmt.Sprintf("table %s: %s", table, op)
	}
	return fmt.Sprintf("table %s: %s %q", table, op, key)
}

// Unwrap returns Err, the last throttling error.
func (e *ThrottledError) Unwrap() error { return e.Err }

// retry calls call until it succeeds, fails with an error that is not
// transient (awserr.Transient: throttling, a server fault, a timeout), or
// has failed transiently s.attempts times: the calls of one operation, the
// SDK's own retries being off. Running out while throttled is reported as a
// *ThrottledError. Each transient failure is logged as a warning, at most
// one per operation per ratelog.DefaultEvery.
func retry[T any](ctx context.Context, s *Store, op, key string, call func(context.Context) (T, error)) (T, error) {
	attempt := 0
	throttled := func(err error) bool {
		attempt++
		if !awserr.Transient(ctx, err) {
			return false
		}
		s.warns.Log(s.log, slog.LevelWarn, op, time.Now(), "a lease table call failed transiently; retrying",
			"table", *s.table, "op", op, "key", key, "attempt", attempt, "of", s.attempts, "err", err)
		return true
	}
	v, n, err := backoff.Retry(ctx, s.backoff, s.attempts, throttled, call)
	if ddb.IsThrottle(err) {
		var zero T
		return zero, &ThrottledError{Table: *s.table, Op: op, Key: key, Attempts: n, Err: err}
	}
	return v, err
}
