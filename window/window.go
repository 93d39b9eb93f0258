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
// Neither structure is safe for concurrent use; each type's doc says which
// methods only read it.
package window

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidOption is wrapped by every error a constructor returns for a bad
// argument, so callers can test for it with errors.Is.
var ErrInvalidOption = errors.New("window: invalid option")

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
