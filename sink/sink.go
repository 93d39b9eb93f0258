// Package sink stores the results of windowed counting: one Snapshot per group
// (a page, a product, a tenant) per emit, as the visualizer's counts table
// does. Writers are idempotent, so a result written again after a retry or a
// failover leaves one copy.
package sink

import (
	"context"
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
type Writer interface {
	Write(ctx context.Context, snapshots []Snapshot) error
}

// Reader reads snapshots back.
type Reader interface {
	// Query returns the group's snapshots with Time at or after since, in
	// time order.
	Query(ctx context.Context, group string, since time.Time) ([]Snapshot, error)
}
