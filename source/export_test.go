package source

import (
	"context"

	"github.com/streamtop/streamtop/internal/crash"
)

// RunUntilCrash is Run for tests of failover: when crash closes, the worker
// stops as its process would if killed, with no processor hook, no release
// and no further write.
func RunUntilCrash(c *Consumer, ctx context.Context, killed <-chan struct{}) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-killed:
			cancel(crash.Cause)
		case <-ctx.Done():
		}
	}()
	return c.Run(ctx)
}
