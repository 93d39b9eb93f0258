package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/streamtop/streamtop/internal/backoff"
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

// withRetries calls call until it succeeds, fails for good, or has been
// made as many times as c allows; when the retries run out, the error wraps
// ErrThrottled and the last one. Each transient failure is a warning to
// c.log, rate-limited per op.
func withRetries[T any](ctx context.Context, c retryConfig, op string, call func(context.Context) (T, error)) (T, error) {
	attempt := 0
	transient := func(err error) bool {
		attempt++
		ok := retryable(ctx, err)
		if ok {
			c.warnRetry(op, attempt, err)
		}
		return ok
	}
	v, n, err := backoff.Retry(ctx, c.backoff, c.maxAttempts, transient, call)
	if err != nil && transient(err) {
		return v, fmt.Errorf("%w: %s: %d attempts: %w", ErrThrottled, op, n, err)
	}
	return v, err
}

// warnRetry logs that the attempt-th call of op failed transiently and will
// be retried: at most one line per op per ratelog.DefaultEvery. Extra
// arguments (the stream, the shard) are added to the line.
func (c retryConfig) warnRetry(op string, attempt int, err error, args ...any) {
	if c.log == nil {
		return
	}
	args = append(args, "stream", c.stream, "op", op, "attempt", attempt, "err", err)
	c.warns.Log(c.log, slog.LevelWarn, op, time.Now(), "Kinesis call failed transiently (throttled, timed out or a server error); retrying", args...)
}
