package kinesisstream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/internal/awserr"
	"github.com/streamtop/streamtop/internal/backoff"
)

// retryable reports whether err, returned by a call made with ctx, is
// transient: the adapters' one predicate, awserr.Transient.
func retryable(ctx context.Context, err error) bool { return awserr.Transient(ctx, err) }

// oneAttempt turns the SDK's own retries off for a call: the Stream's and
// Producer's loops retry it under their policy (WithBackoff,
// WithMaxAttempts), so the calls of one operation are bounded by that
// policy alone instead of by its attempts times the SDK's.
func oneAttempt(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

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
