package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// retryableCodes are the Kinesis error codes that say "try again later":
// throttling of the stream, the account's API limits or KMS, and the
// service's own transient failures.
var retryableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"KMSThrottlingException":                 true,
	"LimitExceededException":                 true,
	"InternalFailureException":               true,
	"InternalFailure":                        true,
	"ServiceUnavailable":                     true,
	"ServiceUnavailableException":            true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
}

// retryable reports whether err, returned by a call made with ctx, is
// transient: a throttle, a server fault, or a connection or timeout error
// the SDK itself would retry. A timeout while ctx is still live is the
// call's own (an HTTP client or per-attempt timeout, which net/http reports
// as matching context.DeadlineExceeded) and worth another try; once ctx
// has ended, nothing is.
func retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if retryableCodes[apiErr.ErrorCode()] {
			return true
		}
		if apiErr.ErrorFault() == smithy.FaultServer {
			return true
		}
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// backoff computes retry delays: capped exponential growth with "equal
// jitter" (half fixed, half random), so retries of many readers spread out
// yet none retries at once. The zero value is unusable; it is safe for
// concurrent use (math/rand/v2's top-level functions are).
type backoff struct {
	base, max time.Duration
}

// delay is the wait before retry n (n >= 0).
func (b backoff) delay(n int) time.Duration {
	d := b.max
	if n < 32 {
		if e := b.base << n; e > 0 && e < b.max {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryLoop calls f until it succeeds, fails for good, or has been tried
// maxAttempts times (< 0: no bound), sleeping between tries on clock.
func retryLoop(ctx context.Context, clock Clock, b backoff, maxAttempts int, op string, f func() error) error {
	for n := 0; ; n++ {
		err := f()
		if err == nil || !retryable(ctx, err) {
			return err
		}
		if maxAttempts >= 0 && n+1 >= maxAttempts {
			return fmt.Errorf("%w: %s: %d attempts: %w", ErrThrottled, op, n+1, err)
		}
		if err := sleep(ctx, clock, b.delay(n)); err != nil {
			return err
		}
	}
}
