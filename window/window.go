// Package window counts keys over a sliding time window cut into buckets:
// Counter counts exactly; Sketch keeps bounded memory and reports an error
// bound with every count.
//
// Time always comes from the caller (event time): a record's arrival time, or
// a time the application decodes from it. Buckets are aligned to whole
// multiples of the bucket length since the Unix epoch, and the window is the
// size/bucket buckets ending with the bucket that holds the latest time seen.
// Processing-time windows are the special case where the caller passes
// time.Now().
//
// Top and its kin read the current window. With WithHistory, Counter and
// Sketch also keep the buckets before it, and TopAt and TotalAt read the
// window ending at any bucket boundary the history covers: say the one a
// watermark has just passed, while records of later buckets are already
// counted.
//
// Neither structure is safe for concurrent use; each type's doc says which
// methods only read it.
package window

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamtop/streamtop/internal/option"
)

// ErrInvalidOption is wrapped by every error a constructor returns for a bad
// argument, so callers can test for it with errors.Is.
var ErrInvalidOption = errors.New("window: invalid option")

// ErrEnd is wrapped by the error TopAt and TotalAt return for an end at
// which no window can be read: one that is not a bucket boundary, that is
// after the end of the newest bucket, or that is older than the history
// kept allows (see WithHistory); and for every end before the first Add or
// Advance.
var ErrEnd = errors.New("window: no window to read at that end")

// Option configures NewCounter and NewSketch; WithHistory makes one. An
// Option is a plain value, safe to share and reuse. It checks its argument
// when the constructor applies it, and a bad one (or a nil Option) makes the
// constructor return an error wrapping ErrInvalidOption that names the
// option and the value.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	history time.Duration
}

// WithHistory keeps the buckets of the last d before the window, besides the
// window's own, so that TopAt and TotalAt can read every window that ends up
// to d before the end of the newest bucket, and Add still counts a record up
// to d older than the window (in the windows that hold it, not in the
// current one). It lets a caller read the window ending at a boundary that a
// watermark has just passed, after records of later buckets have arrived.
//
// d must be a whole multiple of the bucket length; 0, the default, keeps no
// history. What history costs is said by Counter and Sketch.
func WithHistory(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: WithHistory(%v): want >= 0", ErrInvalidOption, d)
		}
		c.history = d
		return nil
	})
}

// shapeOf validates a window's size, bucket length and options, and returns
// how many buckets the window holds and how many the history adds to it.
func shapeOf(size, bucket time.Duration, opts []Option) (n, h int, err error) {
	if n, err = buckets(size, bucket); err != nil {
		return 0, 0, err
	}
	var cfg config
	if err := option.Apply(&cfg, ErrInvalidOption, opts, Option.apply); err != nil {
		return 0, 0, err
	}
	if cfg.history%bucket != 0 {
		return 0, 0, fmt.Errorf("%w: WithHistory(%v) is not a whole multiple of bucket %v", ErrInvalidOption, cfg.history, bucket)
	}
	return n, int(cfg.history / bucket), nil
}

// readable checks that end is the end of a window that can be read, given
// the newest bucket and h buckets of history, and returns how many buckets
// the window ends before the newest one's end: 0 for the current window, at
// most h.
func readable(end time.Time, bucket time.Duration, started bool, newest int64, h int) (int, error) {
	if !started {
		return 0, fmt.Errorf("%w: %v: nothing counted yet", ErrEnd, end)
	}
	e := bucketOf(end, bucket) // the window is the buckets before e
	if !bucketStart(e, bucket).Equal(end) {
		return 0, fmt.Errorf("%w: %v is not on a boundary of %v buckets", ErrEnd, end, bucket)
	}
	newestEnd := bucketStart(newest+1, bucket)
	if e > newest && e-1 != newest {
		return 0, fmt.Errorf("%w: %v is after %v, the end of the newest bucket", ErrEnd, end, newestEnd)
	}
	// Unsigned, so that buckets near the ends of int64 cannot overflow.
	if e <= newest && uint64(newest)-uint64(e) >= uint64(h) {
		return 0, fmt.Errorf("%w: %v is before %v, the oldest end that %v of history keeps", ErrEnd, end, newestEnd.Add(-time.Duration(h)*bucket), time.Duration(h)*bucket)
	}
	return int(uint64(newest) - uint64(e) + 1), nil
}

// buckets validates a window's size and bucket length and returns how many
// buckets the window holds.
func buckets(size, bucket time.Duration) (int, error) {
	switch {
	case bucket <= 0:
		return 0, fmt.Errorf("%w: bucket %v must be positive", ErrInvalidOption, bucket)
	case size <= 0:
		return 0, fmt.Errorf("%w: size %v must be positive", ErrInvalidOption, size)
	case size%bucket != 0:
		return 0, fmt.Errorf("%w: size %v is not a whole multiple of bucket %v", ErrInvalidOption, size, bucket)
	}
	return int(size / bucket), nil
}

// bucketOf returns the index of the bucket that holds t: the number of whole
// bucket lengths between the Unix epoch and t, rounded down (also before
// 1970). Times outside the years 1678 to 2262 do not fit and are clamped by
// time.Time.UnixNano's own rules.
func bucketOf(t time.Time, bucket time.Duration) int64 {
	ns := t.UnixNano()
	b := int64(bucket)
	q := ns / b
	if ns%b < 0 {
		q--
	}
	return q
}

// bucketStart returns the time at which bucket index i begins.
func bucketStart(i int64, bucket time.Duration) time.Time {
	return time.Unix(0, i*int64(bucket))
}
