package kinesisstream

import (
	"errors"
	"fmt"
	"time"
)

// Errors of this package; failures of the service come wrapped in them (or as
// the SDK's own typed errors) so errors.Is and errors.As can see both.
var (
	// ErrInvalidOption reports a bad argument to New, NewProducer or a helper.
	ErrInvalidOption = errors.New("kinesisstream: invalid option")
	// ErrThrottled reports that a call was still throttled (or failing
	// transiently) when its retries ran out.
	ErrThrottled = errors.New("kinesisstream: throttled, retries exhausted")
	// ErrInvalidRecord reports a record the service could never accept: an
	// empty partition key, one over 256 characters, or a record over 1 MiB.
	ErrInvalidRecord = errors.New("kinesisstream: invalid record")
	// ErrBufferFull reports that a Producer made with WithFailWhenFull had
	// no room for a record.
	ErrBufferFull = errors.New("kinesisstream: producer buffer full")
	// ErrClosed reports use of a closed Producer or ShardReader.
	ErrClosed = errors.New("kinesisstream: closed")
	// ErrSendFailed reports records a Producer accepted but could not send:
	// the service refused them for good, or Close ran out of time.
	ErrSendFailed = errors.New("kinesisstream: records not sent")
)

// Limits of the Kinesis API (Kinesis Data Streams quotas).
const (
	// MaxRecordSize bounds a record's data plus its partition key.
	MaxRecordSize = 1 << 20
	// MaxPartitionKeyLen bounds a partition key, in Unicode characters.
	MaxPartitionKeyLen = 256
	// MaxBatchRecords and MaxBatchSize bound one PutRecords request.
	MaxBatchRecords = 500
	MaxBatchSize    = 5 << 20
	// MaxGetRecords is the most records one GetRecords call returns.
	MaxGetRecords = 10000
	// DefaultPollInterval keeps a reader within 5 GetRecords calls per
	// second per shard.
	DefaultPollInterval = 200 * time.Millisecond
	// DefaultReadLimit is the read throughput of one shard, bytes per second.
	DefaultReadLimit = 2 << 20
)

// Option configures a Stream (New) or a Producer (NewProducer). Options that
// make sense for only one of them are rejected by the other with
// ErrInvalidOption, rather than silently ignored; so is a nil Option. An
// Option is a plain value, safe to share between goroutines and reuse.
type Option func(*config) error

type config struct {
	clock       Clock
	backoffBase time.Duration
	backoffMax  time.Duration
	maxAttempts int // 0: the default of the type being built

	// Stream.
	pollInterval time.Duration
	readLimit    int

	// Producer.
	linger       time.Duration
	bufRecords   int
	bufBytes     int
	failWhenFull bool
	keyOrder     bool
	concurrency  int
	batchRecords int
	batchBytes   int
	onFailure    func(partitionKey string, data []byte, err error)
	streamOnly   []string
	producerOnly []string
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		clock:        systemClock{},
		backoffBase:  100 * time.Millisecond,
		backoffMax:   5 * time.Second,
		pollInterval: DefaultPollInterval,
		readLimit:    DefaultReadLimit,
		linger:       50 * time.Millisecond,
		bufRecords:   10000,
		bufBytes:     32 << 20,
		concurrency:  2,
		batchRecords: MaxBatchRecords,
		batchBytes:   MaxBatchSize,
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *config) forStream() error {
	if len(c.producerOnly) > 0 {
		return fmt.Errorf("%w: %s applies to a Producer, not a Stream", ErrInvalidOption, c.producerOnly[0])
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = 10
	}
	return nil
}

func (c *config) forProducer() error {
	if len(c.streamOnly) > 0 {
		return fmt.Errorf("%w: %s applies to a Stream, not a Producer", ErrInvalidOption, c.streamOnly[0])
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = -1
	}
	return nil
}

// WithClock sets the clock that pacing, backoff and linger use. The default
// is the system clock.
func WithClock(c Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("%w: nil Clock", ErrInvalidOption)
		}
		cfg.clock = c
		return nil
	}
}

// WithBackoff sets the retry backoff: the n-th retry waits a random time
// between half and all of min(max, base·2ⁿ). The defaults are 100 ms and 5 s.
func WithBackoff(base, max time.Duration) Option {
	return func(c *config) error {
		if base <= 0 || max < base {
			return fmt.Errorf("%w: backoff base %v, max %v: need 0 < base <= max", ErrInvalidOption, base, max)
		}
		c.backoffBase, c.backoffMax = base, max
		return nil
	}
}

// WithMaxAttempts bounds the calls made for one request while the service
// throttles or fails transiently; after the last, the error wraps
// ErrThrottled. A Stream's default is 10. A Producer's default is 0, which
// means no bound: it retries a record until it is sent or Close gives up,
// because dropping a record the caller was told was accepted is worse than
// holding it.
func WithMaxAttempts(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max attempts %d < 0", ErrInvalidOption, n)
		}
		c.maxAttempts = n
		if n == 0 {
			c.maxAttempts = -1 // explicitly unbounded
		}
		return nil
	}
}

// WithPollInterval sets the least time between two GetRecords calls of one
// shard reader (Stream only). The default, 200 ms, is Kinesis's limit of 5
// calls per second per shard; lower it only on an emulator or a stream with
// a single reader per shard that can afford throttling.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) error {
		c.streamOnly = append(c.streamOnly, "WithPollInterval")
		if d <= 0 {
			return fmt.Errorf("%w: poll interval %v <= 0", ErrInvalidOption, d)
		}
		c.pollInterval = d
		return nil
	}
}

// WithReadLimit sets the read throughput a shard reader keeps to, in bytes
// per second (Stream only). The default is 2 MiB/s, Kinesis's per-shard read
// limit; a reader may burst up to 5 s worth of it, as the service allows.
func WithReadLimit(bytesPerSecond int) Option {
	return func(c *config) error {
		c.streamOnly = append(c.streamOnly, "WithReadLimit")
		if bytesPerSecond <= 0 {
			return fmt.Errorf("%w: read limit %d <= 0", ErrInvalidOption, bytesPerSecond)
		}
		c.readLimit = bytesPerSecond
		return nil
	}
}

// WithLinger sets how long a Producer holds a record to fill a batch before
// sending it anyway (Producer only). The default is 50 ms; 0 sends whenever
// a sender is free.
func WithLinger(d time.Duration) Option {
	return func(c *config) error {
		c.producerOnly = append(c.producerOnly, "WithLinger")
		if d < 0 {
			return fmt.Errorf("%w: linger %v < 0", ErrInvalidOption, d)
		}
		c.linger = d
		return nil
	}
}

// WithBufferLimit bounds what a Producer holds, sent or not yet acknowledged:
// at most records records and bytes bytes (Producer only). The defaults are
// 10,000 records and 32 MiB. When the buffer is full, Put blocks, unless
// WithFailWhenFull is given.
func WithBufferLimit(records, bytes int) Option {
	return func(c *config) error {
		c.producerOnly = append(c.producerOnly, "WithBufferLimit")
		if records < 1 || bytes < MaxRecordSize {
			return fmt.Errorf("%w: buffer limit %d records, %d bytes: need >= 1 record and >= %d bytes", ErrInvalidOption, records, bytes, MaxRecordSize)
		}
		c.bufRecords, c.bufBytes = records, bytes
		return nil
	}
}

// WithFailWhenFull makes Put return ErrBufferFull at once when the buffer is
// full, instead of blocking until there is room (Producer only). Blocking is
// the default because it slows a fast writer down to what the stream takes
// without losing anything; failing suits a caller that would rather shed
// load itself.
func WithFailWhenFull() Option {
	return func(c *config) error {
		c.producerOnly = append(c.producerOnly, "WithFailWhenFull")
		c.failWhenFull = true
		return nil
	}
}

// WithKeyOrder keeps the records of each partition key in the order Put
// accepted them, even when some are throttled and retried (Producer only).
// Kinesis does not order the records of one PutRecords request, so a key
// then has at most one record in flight: its later records wait for the
// earlier one's acknowledgement. That costs throughput when few keys are hot.
func WithKeyOrder() Option {
	return func(c *config) error {
		c.producerOnly = append(c.producerOnly, "WithKeyOrder")
		c.keyOrder = true
		return nil
	}
}

// WithConcurrency sets how many PutRecords requests a Producer keeps in
// flight (Producer only). The default is 2.
func WithConcurrency(n int) Option {
	return func(c *config) error {
		c.producerOnly = append(c.producerOnly, "WithConcurrency")
		if n < 1 {
			return fmt.Errorf("%w: concurrency %d < 1", ErrInvalidOption, n)
		}
		c.concurrency = n
		return nil
	}
}

// WithBatchLimit lowers the size of a PutRecords request below the service's
// limits of 500 records and 5 MiB (Producer only).
func WithBatchLimit(records, bytes int) Option {
	return func(c *config) error {
		c.producerOnly = append(c.producerOnly, "WithBatchLimit")
		if records < 1 || records > MaxBatchRecords || bytes < MaxRecordSize || bytes > MaxBatchSize {
			return fmt.Errorf("%w: batch limit %d records, %d bytes: need 1..%d records and %d..%d bytes",
				ErrInvalidOption, records, bytes, MaxBatchRecords, MaxRecordSize, MaxBatchSize)
		}
		c.batchRecords, c.batchBytes = records, bytes
		return nil
	}
}

// WithFailureHandler sets a function the Producer calls for each accepted
// record it gives up on, with the reason (Producer only). It is called from
// the Producer's goroutines, must be safe for concurrent use and should not
// block. Without it, failures are counted in Stats and reported by the next
// Flush or Close.
func WithFailureHandler(f func(partitionKey string, data []byte, err error)) Option {
	return func(c *config) error {
		c.producerOnly = append(c.producerOnly, "WithFailureHandler")
		if f == nil {
			return fmt.Errorf("%w: nil failure handler", ErrInvalidOption)
		}
		c.onFailure = f
		return nil
	}
}
