// Package sink stores the results of windowed counting: one Snapshot per group
// (a page, a product, a tenant) per emit, as the visualizer's counts table
// does. Writers are idempotent, so a result written again after a retry or a
// failover leaves one copy.
package sink

import (
	"context"
	"errors"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// Snapshot is the counts of one group over the window ending at Time.
type Snapshot struct {
	Group  string
	Time   time.Time
	Window time.Duration
	Counts []topk.Entry[string]
	// Host names the worker that computed the snapshot.
	Host string
}

// Writer stores snapshots. Writing a snapshot whose Group and Time are
// already stored replaces it, so writing the same snapshot twice leaves one.
// Times are kept to the millisecond at least: two snapshots of one group whose
// times differ by a millisecond or more are two snapshots.
type Writer interface {
	Write(ctx context.Context, snapshots []Snapshot) error
}

// Errors returned by sinks.
var (
	// ErrInvalidOption is wrapped by every error a constructor returns for a
	// bad argument, so callers can test for it with errors.Is.
	ErrInvalidOption = errors.New("sink: invalid option")
	// ErrInvalidSnapshot is wrapped by the error a Writer returns for a
	// snapshot it cannot store (no Group, or a zero Time). Such a Write
	// stores nothing of its batch.
	ErrInvalidSnapshot = errors.New("sink: invalid snapshot")
)

// Lister is implemented by sinks that can name the groups they hold, as the
// visualizer's resource picker needs. Find it with a type assertion.
type Lister interface {
	// Groups returns the names of the groups with at least one snapshot,
	// in ascending order.
	Groups(ctx context.Context) ([]string, error)
}

// Reader reads snapshots back.
type Reader interface {
	// Query returns the group's snapshots with Time at or after since, in
	// time order.
	Query(ctx context.Context, group string, since time.Time) ([]Snapshot, error)
}
