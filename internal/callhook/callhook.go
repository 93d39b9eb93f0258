// Package callhook reports the AWS calls of an adapter to its hook.Calls.
// The adapters route every SDK call through one wrapper of their client
// (ddb.Once for DynamoDB, kinesisstream's observed client for Kinesis),
// and that wrapper asks an Observer to time it: so each attempt is seen once,
// whichever retry loop made it.
package callhook

import (
	"context"
	"time"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/awserr"
)

// Observer times an adapter's calls for its hooks. A nil *Observer does
// nothing and costs a nil check, so adapters given no hook keep one. It is
// safe for concurrent use if its hooks are.
type Observer struct {
	adapter string
	hooks   []hook.Calls
}

// New returns an Observer of adapter's calls for the hook.Calls among hs,
// or nil if there are none.
func New(adapter string, hs []hook.Hook) *Observer {
	calls := hook.Find[hook.Calls](hs)
	if len(calls) == 0 {
		return nil
	}
	return &Observer{adapter: adapter, hooks: calls}
}

// Start returns the time a call starts, or the zero time for a nil o.
func (o *Observer) Start() time.Time {
	if o == nil {
		return time.Time{}
	}
	return time.Now()
}

// Done reports the call of api made with ctx that began at start (from
// Start) and ended with err.
func (o *Observer) Done(ctx context.Context, api string, start time.Time, err error) {
	if o == nil {
		return
	}
	c := hook.Call{Adapter: o.adapter, API: api, Duration: time.Since(start), Err: err}
	if err != nil {
		c.Retryable = awserr.Transient(ctx, err)
		c.Throttled = c.Retryable && awserr.IsThrottle(err)
	}
	for _, h := range o.hooks {
		h.OnCall(c)
	}
}
