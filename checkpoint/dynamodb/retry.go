package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/smithy-go"
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

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("checkpoint/dynamodb: %s %q: throttled on all %d attempts: %v", e.Op, e.Key, e.Attempts, e.Err)
}

func (e *ThrottledError) Unwrap() error { return e.Err }

// throttleCodes are the error codes with which DynamoDB says "slow down":
// per-table or per-partition capacity, the account's request rate, and the
// control plane's rate.
var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true,
	"ThrottlingException":                    true,
}

func isThrottle(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && throttleCodes[apiErr.ErrorCode()]
}

// backoff is a capped exponential backoff with full jitter: many workers
// throttled by the same table spread their retries out instead of arriving
// again together.
type backoff struct {
	attempts  int
	base, max time.Duration
}

// delay returns the wait before retry n (n >= 1).
func (b backoff) delay(n int) time.Duration {
	ceiling := b.max
	if shift := n - 1; shift < 32 {
		if d := b.base << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling) + 1
}

// retry calls call until it succeeds, fails with an error that is not
// throttling, or has been throttled b.attempts times.
func retry[T any](ctx context.Context, b backoff, op, key string, call func(context.Context) (T, error)) (T, error) {
	for n := 1; ; n++ {
		v, err := call(ctx)
		if err == nil || !isThrottle(err) {
			return v, err
		}
		if n >= b.attempts {
			var zero T
			return zero, &ThrottledError{Op: op, Key: key, Attempts: n, Err: err}
		}
		t := time.NewTimer(b.delay(n))
		select {
		case <-ctx.Done():
			t.Stop()
			var zero T
			return zero, ctx.Err()
		case <-t.C:
		}
	}
}
