package kinesisstream

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/option"
	"github.com/streamtop/streamtop/internal/ratelog"
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
	// the service refused them for good, or Close ran out of time. Flush
	// and Close return it as a *LostError, which says how many.
	ErrSendFailed = errors.New("kinesisstream: records not sent")
)

// LostError reports records a Producer accepted but could not deliver, as
// Flush and Close return it: how many since the last report, and the reason
// the last of them failed. errors.Is finds ErrSendFailed in it, and both
// errors.Is and errors.As see through it to Last (a service error such as
// *types.ResourceNotFoundException, ErrThrottled, or the ctx error of a
// Close that ran out of time). Each report is a new value that the Producer
// never changes, so it may be read from any goroutine; the zero value is
// never returned.
type LostError struct {
	Records int   // records lost, at least 1
	Last    error // why the last of them failed
}

func (e *LostError) Error() string {
	return fmt.Sprintf("%v: %d records lost; the last: %v", ErrSendFailed, e.Records, e.Last)
}

// Unwrap returns ErrSendFailed and Last, for errors.Is and errors.As.
func (e *LostError) Unwrap() []error { return []error{ErrSendFailed, e.Last} }

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
)

// Defaults of the options.
const (
	// DefaultBackoffBase and DefaultBackoffMax bound the retry backoff
	// (WithBackoff) of a Stream and a Producer.
	DefaultBackoffBase = 100 * time.Millisecond
	DefaultBackoffMax  = 5 * time.Second
	// DefaultMaxAttempts bounds the calls a Stream makes for one request
	// (WithMaxAttempts). A Producer's default is no bound.
	DefaultMaxAttempts = 10
	// DefaultPollInterval keeps a reader within 5 GetRecords calls per
	// second per shard.
	DefaultPollInterval = 200 * time.Millisecond
	// DefaultReadLimit is the read throughput of one shard, bytes per second.
	DefaultReadLimit = 2 << 20
	// DefaultLinger is how long a Producer holds a record to fill a batch.
	DefaultLinger = 50 * time.Millisecond
	// DefaultBufferRecords and DefaultBufferBytes bound what a Producer
	// holds (WithBufferLimit).
	DefaultBufferRecords = 10000
	DefaultBufferBytes   = 32 << 20
	// DefaultConcurrency is how many PutRecords requests a Producer keeps
	// in flight.
	DefaultConcurrency = 2
	// DefaultAggregateSize is the size of an aggregated record that
	// WithAggregation suggests, 50 KiB, as the KPL's default. Far below the
	// 1 MiB a record may have, it already carries some 400 records of 100
	// bytes, so a request of 5 MiB holds tens of thousands; and a smaller
	// aggregate costs less when it goes wrong: a throttled one is sent
	// again whole, a shard takes only 1 MiB a second (a 1 MiB aggregate
	// fills that alone, and is refused whole if anything else was written
	// that second), and a reader delivers a corrupt one as a single record.
	DefaultAggregateSize = 50 << 10
)

// StreamOption configures a Stream in New. WithPollInterval and
// WithReadLimit make one; so do WithBackoff and WithMaxAttempts, whose
// Option configures a Producer too. Passing a Producer's option to New does
// not compile.
type StreamOption interface {
	applyStream(*streamConfig) error
}

// ProducerOption configures a Producer in NewProducer. WithLinger,
// WithBufferLimit, WithFailWhenFull, WithKeyOrder, WithConcurrency,
// WithBatchLimit, WithFailureHandler and WithAggregation make one; so do
// WithBackoff and WithMaxAttempts. Passing a Stream's option to NewProducer
// does not compile.
type ProducerOption interface {
	applyProducer(*producerConfig) error
}

// Option configures a Stream or a Producer alike: it is both a StreamOption
// and a ProducerOption.
//
// Every option is a plain value, safe to share between goroutines and to
// reuse. It checks its argument when New or NewProducer applies it, in the
// order given; a bad argument (or a nil option) makes the constructor
// return an error wrapping ErrInvalidOption that names the option and the
// value.
type Option interface {
	StreamOption
	ProducerOption
}

// retryConfig is what a Stream and a Producer both have: how they retry.
type retryConfig struct {
	backoff     backoff.Policy
	maxAttempts int // calls per request; 0: no bound
	// log receives the retries' warnings, through warns (WithLogger);
	// nil: no logging.
	log    *slog.Logger
	warns  *ratelog.Limiter
	stream string // for the warnings: the stream's name, once known
	hooks  []hook.Hook
}

type streamConfig struct {
	retryConfig
	pollInterval time.Duration
	readLimit    int
	noDeagg      bool
	fanOut       string // WithEnhancedFanOut's consumer name
}

type producerConfig struct {
	retryConfig
	linger       time.Duration
	bufRecords   int
	bufBytes     int
	failWhenFull bool
	keyOrder     bool
	concurrency  int
	batchRecords int
	batchBytes   int
	onFailure    func(partitionKey string, data []byte, err error)
	aggSize      int // 0: no aggregation
}

var defaultBackoff = backoff.Policy{Base: DefaultBackoffBase, Max: DefaultBackoffMax}

func newStreamConfig(opts []StreamOption) (*streamConfig, error) {
	c := &streamConfig{
		retryConfig:  retryConfig{backoff: defaultBackoff, maxAttempts: DefaultMaxAttempts},
		pollInterval: DefaultPollInterval,
		readLimit:    DefaultReadLimit,
	}
	if err := option.Apply(c, ErrInvalidOption, opts, StreamOption.applyStream); err != nil {
		return nil, err
	}
	return c, nil
}

func newProducerConfig(opts []ProducerOption) (*producerConfig, error) {
	c := &producerConfig{
		retryConfig:  retryConfig{backoff: defaultBackoff},
		linger:       DefaultLinger,
		bufRecords:   DefaultBufferRecords,
		bufBytes:     DefaultBufferBytes,
		concurrency:  DefaultConcurrency,
		batchRecords: MaxBatchRecords,
		batchBytes:   MaxBatchSize,
	}
	if err := option.Apply(c, ErrInvalidOption, opts, ProducerOption.applyProducer); err != nil {
		return nil, err
	}
	return c, nil
}

type streamOption func(*streamConfig) error

func (f streamOption) applyStream(c *streamConfig) error { return f(c) }

type producerOption func(*producerConfig) error

func (f producerOption) applyProducer(c *producerConfig) error { return f(c) }

// retryOption is an Option: it sets what a Stream and a Producer share.
type retryOption func(*retryConfig) error

func (f retryOption) applyStream(c *streamConfig) error     { return f(&c.retryConfig) }
func (f retryOption) applyProducer(c *producerConfig) error { return f(&c.retryConfig) }

// WithBackoff sets the retry backoff of a Stream or a Producer: the n-th
// retry waits a random time between half and all of min(max, base·2ⁿ). The
// defaults are DefaultBackoffBase and DefaultBackoffMax; base must be
// positive and max at least base.
func WithBackoff(base, max time.Duration) Option {
	return retryOption(func(c *retryConfig) (err error) {
		c.backoff, err = backoff.New(base, max, ErrInvalidOption)
		return err
	})
}

// WithMaxAttempts bounds the calls made for one request while the service
// throttles or fails transiently; after the last, the error wraps
// ErrThrottled. 0 means no bound. A Stream's default is DefaultMaxAttempts.
// A Producer's default is no bound: it retries a record until it is sent or
// Close gives up, because dropping a record the caller was told was
// accepted is worse than holding it.
func WithMaxAttempts(n int) Option {
	return retryOption(func(c *retryConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: WithMaxAttempts(%d): want >= 0", ErrInvalidOption, n)
		}
		c.maxAttempts = n
		return nil
	})
}

// WithPollInterval sets the least time between two GetRecords calls of one
// shard reader. The default, DefaultPollInterval, is Kinesis's limit of 5
// calls per second per shard; lower it only on an emulator or a stream with
// a single reader per shard that can afford throttling.
func WithPollInterval(d time.Duration) StreamOption {
	return streamOption(func(c *streamConfig) error {
		return option.Positive(&c.pollInterval, ErrInvalidOption, "WithPollInterval", d)
	})
}

// WithReadLimit sets the read throughput a shard reader keeps to, in bytes
// per second. The default, DefaultReadLimit, is Kinesis's per-shard read
// limit; a reader may burst up to 5 s worth of it, as the service allows.
func WithReadLimit(bytesPerSecond int) StreamOption {
	return streamOption(func(c *streamConfig) error {
		if bytesPerSecond <= 0 {
			return fmt.Errorf("%w: WithReadLimit(%d): want > 0", ErrInvalidOption, bytesPerSecond)
		}
		c.readLimit = bytesPerSecond
		return nil
	})
}

// WithoutDeaggregation turns de-aggregation off: a record in the KPL's
// aggregated format is delivered whole, as Kinesis stores it, with
// SubSequenceNumber 0, for an application that decodes it itself.
func WithoutDeaggregation() StreamOption {
	return streamOption(func(c *streamConfig) error {
		c.noDeagg = true
		return nil
	})
}

// WithLinger sets how long a Producer holds a record to fill a batch before
// sending it anyway. The default is DefaultLinger; 0 sends whenever a
// sender is free.
func WithLinger(d time.Duration) ProducerOption {
	return producerOption(func(c *producerConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: WithLinger(%v): want >= 0", ErrInvalidOption, d)
		}
		c.linger = d
		return nil
	})
}

// WithBufferLimit bounds what a Producer holds, sent or not yet
// acknowledged: at most records records and bytes bytes. The defaults are
// DefaultBufferRecords and DefaultBufferBytes. When the buffer is full, Put
// blocks, unless WithFailWhenFull is given.
func WithBufferLimit(records, bytes int) ProducerOption {
	return producerOption(func(c *producerConfig) error {
		if records < 1 || bytes < MaxRecordSize {
			return fmt.Errorf("%w: WithBufferLimit(%d, %d): want >= 1 record and >= %d bytes", ErrInvalidOption, records, bytes, MaxRecordSize)
		}
		c.bufRecords, c.bufBytes = records, bytes
		return nil
	})
}

// WithFailWhenFull makes Put return ErrBufferFull at once when the buffer is
// full, instead of blocking until there is room. Blocking is the default
// because it slows a fast writer down to what the stream takes without
// losing anything; failing suits a caller that would rather shed load
// itself.
func WithFailWhenFull() ProducerOption {
	return producerOption(func(c *producerConfig) error {
		c.failWhenFull = true
		return nil
	})
}

// WithKeyOrder keeps the records of each partition key in the order Put
// accepted them, even when some are throttled and retried. Kinesis does not
// order the records of one PutRecords request, so a key then has at most one
// record in flight: its later records wait for the earlier one's
// acknowledgement. That costs throughput when few keys are hot.
func WithKeyOrder() ProducerOption {
	return producerOption(func(c *producerConfig) error {
		c.keyOrder = true
		return nil
	})
}

// WithConcurrency sets how many PutRecords requests a Producer keeps in
// flight. The default is DefaultConcurrency.
func WithConcurrency(n int) ProducerOption {
	return producerOption(func(c *producerConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithConcurrency(%d): want >= 1", ErrInvalidOption, n)
		}
		c.concurrency = n
		return nil
	})
}

// WithBatchLimit lowers the size of a PutRecords request below the service's
// limits of MaxBatchRecords records and MaxBatchSize bytes, the defaults.
func WithBatchLimit(records, bytes int) ProducerOption {
	return producerOption(func(c *producerConfig) error {
		if records < 1 || records > MaxBatchRecords || bytes < MaxRecordSize || bytes > MaxBatchSize {
			return fmt.Errorf("%w: WithBatchLimit(%d, %d): want 1..%d records and %d..%d bytes",
				ErrInvalidOption, records, bytes, MaxBatchRecords, MaxRecordSize, MaxBatchSize)
		}
		c.batchRecords, c.batchBytes = records, bytes
		return nil
	})
}

// WithFailureHandler sets a function the Producer calls for each accepted
// record it gives up on, with its key, its data (which the handler may keep)
// and the reason, as soon as the Producer gives up: when the service
// refuses the record for good (the stream was deleted, say), when
// WithMaxAttempts runs out, or when Close runs out of time. It is called
// from the Producer's goroutines, several at once, never with a lock held
// (it may call Stats, or Put to try again), and should not block: records
// it has not returned for count as unfinished, so Flush and Close wait for
// it (and it must not call them). Failures are also counted in Stats().Failed and reported, with or
// without a handler, by the next Flush or Close as a *LostError.
func WithFailureHandler(f func(partitionKey string, data []byte, err error)) ProducerOption {
	return producerOption(func(c *producerConfig) error {
		if f == nil {
			return fmt.Errorf("%w: WithFailureHandler(nil)", ErrInvalidOption)
		}
		c.onFailure = f
		return nil
	})
}

// WithLogger sets where a Stream logs the calls it retries — throttling,
// timeouts, server errors — as warnings naming the stream, the call and the
// shard, at most one per call (ListShards, GetRecords, ...) every 10 s
// (ratelog.DefaultEvery), with the count of those held back. Record data is
// never logged. A nil logger turns logging off, the default. A Producer
// accepts the option, but its own retries are not logged yet: its failure
// handler and Stats report what it could not send.
func WithLogger(l *slog.Logger) Option {
	return retryOption(func(c *retryConfig) error {
		c.log, c.warns = l, &ratelog.Limiter{}
		return nil
	})
}

// WithAggregation makes a Producer pack records into aggregated records in
// the format of the Kinesis Producer Library (see package kpl), each at
// most maxSize bytes (DefaultAggregateSize is a good choice; at most
// MaxRecordSize), so that one PutRecords request carries many more records
// than its 500 entries. Readers must de-aggregate, as Stream does by
// default, and as the KCL and AWS's aws-kinesis-agg do.
//
// Records are packed by shard: the Producer lists the stream's shards
// (so its client needs ListShards as well as PutRecords, as a
// *kinesis.Client has) and puts each aggregated record with an explicit
// hash key in its shard's range. When Kinesis puts one on another shard,
// the stream was resharded: the Producer lists the shards again and sends
// again the records outside that shard's range (which a reader drops); they
// come after the key's records that other requests in flight sent
// meanwhile, unless WithKeyOrder held those back. A batch's lone record for
// a shard, and a record larger than maxSize, go as they are.
//
// WithBatchLimit then bounds the aggregated records of one request; a batch
// of user records is bounded by the buffer (WithBufferLimit). WithKeyOrder
// still lets one record of a key be in flight, so it packs together records
// of different keys only.
//
// Aggregation costs, in the Producer's goroutines, an MD5 of each record's
// partition key and of each aggregated record, and a copy of each record:
// the records in flight are held twice, beyond what WithBufferLimit counts.
func WithAggregation(maxSize int) ProducerOption {
	return producerOption(func(c *producerConfig) error {
		if maxSize < 1<<10 || maxSize > MaxRecordSize {
			return fmt.Errorf("%w: WithAggregation(%d): want %d..%d bytes", ErrInvalidOption, maxSize, 1<<10, MaxRecordSize)
		}
		c.aggSize = maxSize
		return nil
	})
}
