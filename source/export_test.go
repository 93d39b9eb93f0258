package source

import "context"

// RunUntilCrash is Run for tests of failover: when crash closes, the worker
// stops as its process would if killed, with no processor hook, no release
// and no further write.
func RunUntilCrash(c *Consumer, ctx context.Context, crash <-chan struct{}) error {
	return c.run(ctx, crash)
}
