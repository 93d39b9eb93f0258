package faults

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/streamtop/streamtop/checkpoint"
)

// ErrCut is every call's error on a Cut store while it is cut off.
var ErrCut = errors.New("faults: cut off from the lease table")

// Cut is a lease table a worker can be cut off from, as when its process is
// frozen, it crashed, or its network fails: while Off is set, every call
// fails with ErrCut and reaches nothing. Off is a pointer so that a test can
// share one switch between the store and other pieces of a worker.
type Cut struct {
	checkpoint.Store
	Off *atomic.Bool
}

func (s Cut) List(ctx context.Context) ([]checkpoint.Lease, error) {
	if s.Off.Load() {
		return nil, ErrCut
	}
	return s.Store.List(ctx)
}

func (s Cut) Get(ctx context.Context, key string) (checkpoint.Lease, error) {
	if s.Off.Load() {
		return checkpoint.Lease{}, ErrCut
	}
	return s.Store.Get(ctx, key)
}

func (s Cut) Create(ctx context.Context, l checkpoint.Lease) (bool, error) {
	if s.Off.Load() {
		return false, ErrCut
	}
	return s.Store.Create(ctx, l)
}

func (s Cut) Take(ctx context.Context, l checkpoint.Lease, owner string) (checkpoint.Lease, error) {
	return s.write(func() (checkpoint.Lease, error) { return s.Store.Take(ctx, l, owner) })
}

func (s Cut) Renew(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(func() (checkpoint.Lease, error) { return s.Store.Renew(ctx, l) })
}

func (s Cut) Checkpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(func() (checkpoint.Lease, error) { return s.Store.Checkpoint(ctx, l) })
}

func (s Cut) RequestHandoff(ctx context.Context, l checkpoint.Lease, by string) (checkpoint.Lease, error) {
	return s.write(func() (checkpoint.Lease, error) { return s.Store.RequestHandoff(ctx, l, by) })
}

func (s Cut) Handoff(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(func() (checkpoint.Lease, error) { return s.Store.Handoff(ctx, l) })
}

func (s Cut) Release(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.write(func() (checkpoint.Lease, error) { return s.Store.Release(ctx, l) })
}

func (s Cut) Delete(ctx context.Context, l checkpoint.Lease) error {
	if s.Off.Load() {
		return ErrCut
	}
	return s.Store.Delete(ctx, l)
}

// write runs a lease write unless the store is cut off.
func (s Cut) write(call func() (checkpoint.Lease, error)) (checkpoint.Lease, error) {
	if s.Off.Load() {
		return checkpoint.Lease{}, ErrCut
	}
	return call()
}
