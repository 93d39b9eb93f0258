// Package faults wraps streamtop's interfaces (source.Stream and its readers,
// checkpoint.Store, sink.Writer, and the small AWS client interfaces) so that
// calls fail or slow down on a seeded schedule, for chaos and resilience
// tests. A failure is decided before the call reaches the wrapped value, so
// an injected failure never has a side effect, except where a wrapper says
// it injects a partial failure.
package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"
)

// Errors injected by the wrappers. Each wraps a cause a caller already knows
// how to treat where there is one.
var (
	// ErrThrottled is a retryable refusal, as a throttled AWS call returns.
	ErrThrottled = errors.New("faults: throttled")
	// ErrTimeout is a call that took too long; it wraps
	// context.DeadlineExceeded.
	ErrTimeout = fmt.Errorf("faults: timeout: %w", context.DeadlineExceeded)
	// ErrIteratorExpired is a read whose shard iterator expired; the reader
	// must be opened again.
	ErrIteratorExpired = errors.New("faults: shard iterator expired")
)

// Schedule decides which calls fail and which are slowed, from a seeded
// pseudo-random sequence: the same seed and the same order of calls give the
// same faults.
//
// The zero value injects nothing; make one with NewSchedule. A Schedule is
// safe for concurrent use (calls from several goroutines draw from it in the
// order they reach it, so only a single-goroutine run is exactly repeatable).
// Cost: one mutex and one draw per call.
type Schedule struct {
	mu       sync.Mutex
	rng      *rand.Rand
	rates    map[string]float64
	slowRate float64
	slow     time.Duration
	off      bool
	counts   map[string]int64
}

// Option sets a Schedule's rates.
type Option func(*Schedule)

// Rate makes the operation op (a wrapper's name for a call, such as
// "stream.Read" or "store.Checkpoint"; "*" for every operation without a
// rate of its own) fail with probability p.
func Rate(op string, p float64) Option {
	return func(s *Schedule) { s.rates[op] = p }
}

// Slow makes each call sleep for d (or until its context ends) with
// probability p before it goes on.
func Slow(p float64, d time.Duration) Option {
	return func(s *Schedule) { s.slowRate, s.slow = p, d }
}

// NewSchedule returns a schedule seeded with seed.
func NewSchedule(seed uint64, opts ...Option) *Schedule {
	s := &Schedule{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rates: map[string]float64{}, counts: map[string]int64{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetEnabled turns injection on or off (a test turns it off to let a run
// settle before checking it).
func (s *Schedule) SetEnabled(on bool) {
	s.mu.Lock()
	s.off = !on
	s.mu.Unlock()
}

// Injected returns how many faults were injected per operation (slow calls
// under op+" slow").
func (s *Schedule) Injected() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// draw reports whether op fails now, and how long it is slowed first. It
// draws a choice between kinds of failure k (0 <= k < kinds) as well.
func (s *Schedule) draw(op string, kinds int) (fail bool, kind int, slow time.Duration) {
	if s == nil {
		return false, 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off {
		return false, 0, 0
	}
	p, ok := s.rates[op]
	if !ok {
		p = s.rates["*"]
	}
	if s.slowRate > 0 && s.rng.Float64() < s.slowRate {
		slow = s.slow
		s.counts[op+" slow"]++
	}
	if p > 0 && s.rng.Float64() < p {
		fail, kind = true, s.rng.IntN(max(kinds, 1))
		s.counts[op]++
	}
	return fail, kind, slow
}

// before runs the schedule for one call: it sleeps if the call is slowed and
// returns the error to inject, one of errs, or nil.
func (s *Schedule) before(ctx context.Context, op string, errs ...error) error {
	fail, kind, slow := s.draw(op, len(errs))
	if slow > 0 {
		t := time.NewTimer(slow)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
	if !fail {
		return nil
	}
	if len(errs) == 0 {
		return fmt.Errorf("%s: %w", op, ErrThrottled)
	}
	return fmt.Errorf("%s: %w", op, errs[kind])
}
