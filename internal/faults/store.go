package faults

import (
	"context"
	"fmt"

	"github.com/streamtop/streamtop/checkpoint"
)

// Store wraps a checkpoint.Store. Every call may fail with ErrThrottled or
// ErrTimeout before it reaches the wrapped store (operation "store.<Method>",
// e.g. "store.Renew"). A conditional write (Take, Renew, Checkpoint,
// RequestHandoff, Handoff, Release) may also fail with an error wrapping
// checkpoint.ErrLeaseLost, as a failed condition does, or be applied and
// then reported as ErrTimeout ("store.<Method> applied"), as a call whose
// answer was lost: the caller's view of the counter is then stale, and its
// next write fails for real.
//
// The zero value is not usable; make one with NewStore. It is safe for
// concurrent use as the wrapped Store is.
type Store struct {
	s     checkpoint.Store
	sched *Schedule
}

// NewStore wraps s; sched decides the faults.
func NewStore(s checkpoint.Store, sched *Schedule) *Store { return &Store{s, sched} }

var errFailedCondition = fmt.Errorf("injected failed condition: %w", checkpoint.ErrLeaseLost)

// write runs one conditional write under the schedule.
func (s *Store) write(ctx context.Context, op string, do func() (checkpoint.Lease, error)) (checkpoint.Lease, error) {
	if err := s.sched.before(ctx, op, ErrThrottled, ErrTimeout, errFailedCondition); err != nil {
		return checkpoint.Lease{}, err
	}
	l, err := do()
	if err == nil {
		if fail, _, _ := s.sched.draw(op+" applied", 1); fail {
			return checkpoint.Lease{}, fmt.Errorf("%s: %w", op, ErrTimeout)
		}
	}
	return l, err
}

// List lists the wrapped store's leases unless a fault is injected.
func (s *Store) List(ctx context.Context) ([]checkpoint.Lease, error) {
	if err := s.sched.before(ctx, "store.List", ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	return s.s.List(ctx)
}

// Get reads a lease unless a fault is injected.
func (s *Store) Get(ctx context.Context, key string) (checkpoint.Lease, error) {
	if err := s.sched.before(ctx, "store.Get", ErrThrottled, ErrTimeout); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.s.Get(ctx, key)
}

// Create creates a lease unless a fault is injected.
func (s *Store) Create(ctx context.Context, l checkpoint.Lease) (bool, error) {
	if err := s.sched.before(ctx, "store.Create", ErrThrottled, ErrTimeout); err != nil {
		return false, err
	}
	return s.s.Create(ctx, l)
}

// Take takes a lease unless a fault is injected.
func (s *Store) Take(ctx context.Context, l checkpoint.Lease, owner string) (checkpoint.Lease, error) {
	return s.write(ctx, "store.Take", func() (checkpoint.Lease, error) { return s.s.Take(ctx, l, owner) })
}

// Renew renews a lease unless a fault is injected.
func (s *Store) Renew(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(ctx, "store.Renew", func() (checkpoint.Lease, error) { return s.s.Renew(ctx, l) })
}

// Checkpoint writes a checkpoint unless a fault is injected.
func (s *Store) Checkpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(ctx, "store.Checkpoint", func() (checkpoint.Lease, error) { return s.s.Checkpoint(ctx, l) })
}

// RequestHandoff asks for a lease unless a fault is injected.
func (s *Store) RequestHandoff(ctx context.Context, l checkpoint.Lease, by string) (checkpoint.Lease, error) {
	return s.write(ctx, "store.RequestHandoff", func() (checkpoint.Lease, error) { return s.s.RequestHandoff(ctx, l, by) })
}

// Handoff hands a lease over unless a fault is injected.
func (s *Store) Handoff(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(ctx, "store.Handoff", func() (checkpoint.Lease, error) { return s.s.Handoff(ctx, l) })
}

// Release releases a lease unless a fault is injected.
func (s *Store) Release(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(ctx, "store.Release", func() (checkpoint.Lease, error) { return s.s.Release(ctx, l) })
}

// Delete deletes a lease unless a fault is injected.
func (s *Store) Delete(ctx context.Context, l checkpoint.Lease) error {
	if err := s.sched.before(ctx, "store.Delete", ErrThrottled, ErrTimeout); err != nil {
		return err
	}
	return s.s.Delete(ctx, l)
}

var _ checkpoint.Store = (*Store)(nil)
