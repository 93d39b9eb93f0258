package source

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/streamtop/streamtop/internal/backoff"
)

// Every loop of the Consumer that retries (reads, opens, ProcessRecords,
// Initialize, a restarted shard end) pauses for the library's one backoff
// policy (internal/backoff, from Config.RetryBackoff and MaxRetryBackoff);
// periodic work is spread by jitter.

// jitter returns d scaled by a random factor in [1-f, 1+f].
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64()))
}

// sleep waits for d, or until ctx ends; it reports whether the full pause
// passed.
func sleep(ctx context.Context, d time.Duration) bool {
	return backoff.Sleep(ctx, d) == nil
}
