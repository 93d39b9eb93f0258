package checkpoint

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryStore is a Store that keeps its leases in memory, for a single process
// (the embedded default, and tests). It follows the Store contract exactly, so
// a Consumer that works on it works on a shared table.
//
// Use NewMemoryStore; the zero value is not usable. It is safe for concurrent
// use: one mutex guards the table. Get and every write cost O(p) for a lease
// with p parents (the copy that keeps callers from aliasing stored slices);
// List costs O(n log n) for n leases.
type MemoryStore struct {
	mu     sync.Mutex
	leases map[string]Lease
}

// MaxMemoryStateSize is the largest Lease.State a MemoryStore keeps, 4 MiB. It is far
// above what a shared table holds (checkpoint/dynamostore keeps under 400 KB), so
// it never gets in the way of a single process; it exists so that a state that
// grows without bound fails with ErrStateTooLarge instead of exhausting memory
// one checkpoint copy at a time.
const MaxMemoryStateSize = 4 << 20

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{leases: make(map[string]Lease)}
}

var _ Store = (*MemoryStore)(nil)

// List returns every lease, in key order, without its State.
func (s *MemoryStore) List(ctx context.Context) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]Lease, 0, len(s.leases))
	for _, l := range s.leases {
		l.State = nil
		out = append(out, l.Clone())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Lease) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}

// Get returns the lease stored under key, or ErrNotFound.
func (s *MemoryStore) Get(ctx context.Context, key string) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[key]
	if !ok {
		return Lease{}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return l.Clone(), nil
}

// Create stores l if its key is free. The stored lease keeps l's Key,
// Checkpoint, SubSequence and Parents; it starts with Counter 0, no owner, no
// pending owner and no owner switches, whatever l says, because a new lease
// has never been written by a worker.
func (s *MemoryStore) Create(ctx context.Context, l Lease) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.leases[l.Key]; ok {
		return false, nil
	}
	s.leases[l.Key] = Lease{
		Key:         l.Key,
		Checkpoint:  l.Checkpoint,
		SubSequence: l.SubSequence,
		Parents:     slices.Clone(l.Parents),
	}
	return true, nil
}

// Take makes owner the owner of the lease, conditional on l.Counter.
func (s *MemoryStore) Take(ctx context.Context, l Lease, owner string) (Lease, error) {
	// A lease owned by "" would look released to every other worker.
	if owner == "" {
		return Lease{}, fmt.Errorf("checkpoint: take %q: empty owner", l.Key)
	}
	return s.update(ctx, "take", l, false, func(stored *Lease) error {
		if stored.Owner != owner {
			stored.OwnerSwitchesSinceCheckpoint++
		}
		stored.Owner = owner
		stored.PendingOwner = ""
		stored.Counter++
		return nil
	})
}

// Renew advances the counter, conditional on l.Counter and l.Owner.
func (s *MemoryStore) Renew(ctx context.Context, l Lease) (Lease, error) {
	return s.update(ctx, "renew", l, true, func(stored *Lease) error {
		stored.Counter++
		return nil
	})
}

// Checkpoint stores l.Checkpoint, l.SubSequence and a copy of l.State,
// conditional on l.Counter and l.Owner. An empty state is stored as nil (no
// state); one over MaxMemoryStateSize bytes is refused with ErrStateTooLarge.
func (s *MemoryStore) Checkpoint(ctx context.Context, l Lease) (Lease, error) {
	if len(l.State) > MaxMemoryStateSize {
		return Lease{}, fmt.Errorf("%w: checkpoint %q: state of %d bytes, at most %d kept in memory",
			ErrStateTooLarge, l.Key, len(l.State), MaxMemoryStateSize)
	}
	return s.update(ctx, "checkpoint", l, true, func(stored *Lease) error {
		stored.Checkpoint = l.Checkpoint
		stored.SubSequence = l.SubSequence
		stored.State = nil
		if len(l.State) > 0 {
			stored.State = slices.Clone(l.State)
		}
		stored.OwnerSwitchesSinceCheckpoint = 0
		stored.Counter++
		return nil
	})
}

// RequestHandoff records by as the pending owner, conditional on l.Counter
// and l.Owner, without advancing the counter.
func (s *MemoryStore) RequestHandoff(ctx context.Context, l Lease, by string) (Lease, error) {
	if by == "" {
		return Lease{}, fmt.Errorf("checkpoint: request hand-off of %q: empty requester", l.Key)
	}
	return s.update(ctx, "request hand-off", l, true, func(stored *Lease) error {
		stored.PendingOwner = by
		return nil
	})
}

// Handoff moves the lease to l.PendingOwner, conditional on l.Counter,
// l.Owner and l.PendingOwner.
func (s *MemoryStore) Handoff(ctx context.Context, l Lease) (Lease, error) {
	if l.PendingOwner == "" {
		return Lease{}, fmt.Errorf("checkpoint: hand off %q: no pending owner", l.Key)
	}
	return s.update(ctx, "hand off", l, true, func(stored *Lease) error {
		if stored.PendingOwner != l.PendingOwner {
			return fmt.Errorf("%w: hand off %q: pending owner is %q, not %q",
				ErrLeaseLost, l.Key, stored.PendingOwner, l.PendingOwner)
		}
		if stored.Owner != stored.PendingOwner {
			stored.OwnerSwitchesSinceCheckpoint++
		}
		stored.Owner = stored.PendingOwner
		stored.PendingOwner = ""
		stored.Counter++
		return nil
	})
}

// Release leaves the lease with no owner, conditional on l.Counter and
// l.Owner. A pending hand-off request is dropped with it: the requester can
// now take the lease directly.
func (s *MemoryStore) Release(ctx context.Context, l Lease) (Lease, error) {
	return s.update(ctx, "release", l, true, func(stored *Lease) error {
		stored.Owner = ""
		stored.PendingOwner = ""
		stored.Counter++
		return nil
	})
}

// Delete removes the lease, conditional on l.Counter.
func (s *MemoryStore) Delete(ctx context.Context, l Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.check("delete", l, false); err != nil {
		return err
	}
	delete(s.leases, l.Key)
	return nil
}

// update applies change to the stored copy of l under the lock, if l's
// counter (and, when byOwner, its owner) still match. change sees a copy, so
// a change that fails leaves the table as it was.
func (s *MemoryStore) update(ctx context.Context, op string, l Lease, byOwner bool, change func(*Lease) error) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, err := s.check(op, l, byOwner)
	if err != nil {
		return Lease{}, err
	}
	if err := change(&stored); err != nil {
		return Lease{}, err
	}
	s.leases[l.Key] = stored
	return stored.Clone(), nil
}

// check returns the stored lease if the caller's view of it is current. The
// caller must hold s.mu. An owner's write needs a non-empty owner: otherwise
// anyone could renew or checkpoint a released lease without taking it.
func (s *MemoryStore) check(op string, l Lease, byOwner bool) (Lease, error) {
	stored, ok := s.leases[l.Key]
	switch {
	case !ok:
		return Lease{}, fmt.Errorf("%w: %s %q: no such lease", ErrLeaseLost, op, l.Key)
	case stored.Counter != l.Counter:
		return Lease{}, fmt.Errorf("%w: %s %q: counter is %d, not %d", ErrLeaseLost, op, l.Key, stored.Counter, l.Counter)
	case byOwner && l.Owner == "":
		return Lease{}, fmt.Errorf("%w: %s %q: caller is not an owner", ErrLeaseLost, op, l.Key)
	case byOwner && stored.Owner != l.Owner:
		return Lease{}, fmt.Errorf("%w: %s %q: owner is %q, not %q", ErrLeaseLost, op, l.Key, stored.Owner, l.Owner)
	}
	// The map holds its own Parents and State slices; nothing in update
	// mutates them (Checkpoint replaces State with a fresh copy), so sharing
	// them with the copy is safe until the result is cloned out.
	return stored, nil
}
