package source

import (
	"context"
	"math/rand/v2"
	"time"
)

// The Consumer's one retry policy: every loop that retries (reads, opens,
// ProcessRecords, Initialize, a restarted shard end) pauses for backoff, and
// periodic work is spread by jitter.

// jitter returns d scaled by a random factor in [1-f, 1+f].
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64()))
}

// backoff returns the pause before retry number attempt (0 for the first):
// base doubled per attempt up to limit, drawn from [d/2, d].
func backoff(base, limit time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d on clock, or until ctx ends; it reports whether the full
// pause passed.
func sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-clock.After(d):
		return true
	}
}
