package source_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// brokenStream fails Shards with err while err is set; otherwise it is the
// wrapped stream.
type brokenStream struct {
	source.Stream
	mu  sync.Mutex
	err error
}

func (s *brokenStream) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *brokenStream) Shards(ctx context.Context) ([]source.Shard, error) {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Stream.Shards(ctx)
}

// brokenStore fails List with err.
type brokenStore struct {
	checkpoint.Store
	err error
}

func (s brokenStore) List(context.Context) ([]checkpoint.Lease, error) { return nil, s.err }

// records collects log records; it is safe for concurrent use.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// matching returns the records whose message contains msg.
func (h *records) matching(msg string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.recs {
		if strings.Contains(r.Message, msg) {
			out = append(out, r)
		}
	}
	return out
}

// attr returns the value of r's attribute key, or "".
func attr(r slog.Record, key string) string {
	v := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// With defaults, a stream or lease table that does not exist makes Run
// return the typed error after DefaultGiveUpAfter of failures, and not
// sooner, on the bubble's clock; the warnings meanwhile are rate-limited.
func TestConsumerGivesUpOnWhatDoesNotHeal(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		want  error
		setup func(source.Config, error) source.Config
	}{
		{"missing stream", fmt.Errorf("kinesisstream: ListShards stream orders: %w", source.ErrStreamNotFound), source.ErrStreamNotFound,
			func(cfg source.Config, err error) source.Config {
				cfg.Stream = &brokenStream{Stream: cfg.Stream, err: err}
				return cfg
			}},
		{"denied stream", fmt.Errorf("kinesisstream: ListShards stream orders: %w", source.ErrAccessDenied), source.ErrAccessDenied,
			func(cfg source.Config, err error) source.Config {
				cfg.Stream = &brokenStream{Stream: cfg.Stream, err: err}
				return cfg
			}},
		{"missing table", fmt.Errorf("checkpoint/dynamostore: table LEASES: list: %w", checkpoint.ErrTableNotFound), checkpoint.ErrTableNotFound,
			func(cfg source.Config, err error) source.Config {
				cfg.Leases = brokenStore{Store: cfg.Leases, err: err}
				return cfg
			}},
		{"denied table", fmt.Errorf("checkpoint/dynamostore: table LEASES: list: %w", checkpoint.ErrAccessDenied), checkpoint.ErrAccessDenied,
			func(cfg source.Config, err error) source.Config {
				cfg.Leases = brokenStore{Store: cfg.Leases, err: err}
				return cfg
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				logs := &records{}
				cfg := c.setup(source.Config{Stream: consumertest.NewStream(t, 2), Leases: checkpoint.NewMemoryStore(),
					WorkerID: "w", NewProcessor: func(string) source.Processor { return source.HandlerFunc(nil) },
					Logger: slog.New(logs)}, c.err)
				consumer, err := source.NewConsumer(cfg)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				err = consumer.Run(context.Background())
				took := time.Since(start)
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.err.Error()) {
					t.Errorf("Run = %v; want %v with the adapter's message", err, c.want)
				}
				if took < source.DefaultGiveUpAfter || took > source.DefaultGiveUpAfter+time.Second {
					t.Errorf("Run returned after %v on the clock; want just after %v", took, source.DefaultGiveUpAfter)
				}
				// Two syncs a second for 30 s, one line per 10 s.
				if n := len(logs.matching("will not heal")); n < 3 || n > 4 {
					t.Errorf("%d error lines in %v; want 3 or 4 (one per 10 s)", n, took)
				}
				if n := len(logs.matching("giving up")); n != 1 {
					t.Errorf("%d 'giving up' lines; want 1", n)
				}
			})
		})
	}
}

// A failure that heals for a moment starts the count again, and a failure
// that may heal (throttling, an outage) is retried for as long as it lasts,
// with a warning at most every 10 s.
func TestConsumerRetriesWhatMayHeal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &records{}
		stream := &brokenStream{Stream: consumertest.NewStream(t, 2)}
		cfg := source.Config{Stream: stream, Leases: checkpoint.NewMemoryStore(), WorkerID: "w",
			NewProcessor: func(string) source.Processor { return source.HandlerFunc(nil) },
			Logger:       slog.New(logs), GiveUpAfter: 10 * time.Second, ShardSyncInterval: time.Millisecond}
		consumer, err := source.NewConsumer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var runErr atomic.Pointer[error]
		done := make(chan struct{})
		go func() {
			err := consumer.Run(ctx)
			runErr.Store(&err)
			close(done)
		}()
		notFound := fmt.Errorf("stream orders: %w", source.ErrStreamNotFound)
		stream.set(notFound)
		time.Sleep(8 * time.Second)
		stream.set(nil) // it came back
		time.Sleep(time.Second)
		stream.set(notFound)
		time.Sleep(8 * time.Second)
		if p := runErr.Load(); p != nil {
			t.Fatalf("Run returned %v after two 8 s streaks of a 10 s bound", *p)
		}
		stream.set(errors.New("ThrottlingException: rate exceeded"))
		time.Sleep(5 * time.Minute)
		if p := runErr.Load(); p != nil {
			t.Fatalf("Run returned %v while the stream was throttled", *p)
		}
		if n := len(logs.matching("listing shards failed")); n > 3+1+30+1 {
			t.Errorf("%d warnings in 5 min 17 s; want at most one per 10 s", n)
		}
		if n := len(logs.matching("listing shards failed")); n < 30 {
			t.Errorf("%d warnings in 5 min 17 s of failures; want one per 10 s", n)
		}
		cancel()
		<-done
		if err := *runErr.Load(); err != nil {
			t.Errorf("Run = %v after ctx ended", err)
		}
	})
}

func TestConsumerErrorsAreSentinels(t *testing.T) {
	cfg := consumertest.FastConfig(consumertest.NewStream(t, 1), checkpoint.NewMemoryStore(), "w",
		func(string) source.Processor { return source.HandlerFunc(nil) })
	c, err := source.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	consumertest.WaitFor(t, 10*time.Second, "the shard to be held", func() bool { return c.Stats().LeasesHeld == 1 })
	if err := c.Run(ctx); !errors.Is(err, source.ErrAlreadyStarted) {
		t.Errorf("second Run = %v; want ErrAlreadyStarted", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	cfg.GiveUpAfter = -time.Second
	if _, err := source.NewConsumer(cfg); !errors.Is(err, source.ErrInvalidConfig) {
		t.Errorf("negative GiveUpAfter: %v; want ErrInvalidConfig", err)
	}
}
