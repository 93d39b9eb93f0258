package kinesisstream

import (
	"context"
	"time"
)

// Clock is the time source of a Stream's readers and of a Producer: pacing,
// backoff and linger all read it, so tests can run them on a fake clock.
// Implementations must be safe for concurrent use and should be cheap: a
// reader calls Now twice per GetRecords, a Producer once per Put. The
// default is the system clock.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// systemClock is the real clock; its Now carries a monotonic reading, so
// pacing is immune to wall-clock steps.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on c, or until ctx ends.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-c.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
