// Package sink stores the results of windowed counting: snapshots of the top
// keys of a group (a page, a product, a tenant) over the window ending at a
// given time, as the visualizer's counts table does. Writers are idempotent,
// so a result written again after a retry or a failover leaves one copy.
//
// # Partials, progress and complete windows
//
// When a stream's records are not partitioned by group, every shard holds
// part of every group's records, and no single processor can count a group
// alone. Each shard's processor then writes a partial: a Snapshot with Shard
// set, counting only that shard's records. Partials of different shards
// never replace one another. A Reader merges them into one Snapshot per
// window end: counts are summed, and where a partial was cut to its top
// entries (Floor above zero) a key it does not list may have up to Floor
// there, which the merged entry's Err bounds, as topk.TopOf reasons.
//
// Whether a merged window is complete is a matter of which shards have
// written their part. Each processor records its Progress beside its
// partials (a ProgressWriter): its shard's hash key range and parents, and
// the window ends it has written. A window is Complete once every shard that
// may hold records of it has written through its end: the shards that cover
// the whole hash key space, followed through splits and merges to the
// children that hold the records after a parent ended. Complete windows are
// final; an incomplete one may still change.
//
// One sink (one table) holds one aggregation of one stream: progress is kept
// per shard ID, whatever the group.
package sink

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// Snapshot is the counts of one group over the window ending at Time: a
// whole snapshot, a partial (Shard set) as a processor writes it, or the
// merge of a window's partials as a Reader returns it.
type Snapshot struct {
	Group  string
	Time   time.Time
	Window time.Duration
	// Counts are the top keys, the most counted first; each entry's true
	// count lies in [Count-Err, Count].
	Counts []topk.Entry[string]
	// Host names the worker that computed the snapshot; a merged snapshot
	// names every worker that wrote one of its partials, comma-separated,
	// in order.
	Host string
	// Shard, on a partial, names the shard whose records it counts. It is
	// empty on a whole snapshot and on the merged snapshots Readers return.
	Shard string
	// Floor is the highest count a key that Counts does not list may have:
	// the count of the first key left out when the counts were cut to their
	// top entries, and 0 when every key is listed. A merged snapshot's
	// Floor is its partials' Floors summed.
	Floor int64
	// Complete is set by Readers: every shard that may hold records of the
	// group in this window has written its partial (see the package doc),
	// or the snapshot was written whole. Writers ignore it.
	Complete bool
}

// Writer stores snapshots. Writing a snapshot whose Group, Time and Shard
// are already stored replaces it, so writing the same snapshot twice leaves
// one; partials of different shards (Shard) never replace one another.
// Times are kept to the millisecond at least: two snapshots of one group whose
// times differ by a millisecond or more are two snapshots.
type Writer interface {
	Write(ctx context.Context, snapshots []Snapshot) error
}

// Progress is how far one shard's processor has written its partials, which
// Readers need to tell complete windows from incomplete ones. It is a plain
// value.
type Progress struct {
	// Shard is the shard's ID; Parents are the shards it was split or
	// merged from, and HashKeyStart and HashKeyEnd its range of hash keys
	// (decimal, as source.Shard writes them).
	Shard                    string
	Parents                  []string
	HashKeyStart, HashKeyEnd string
	// Bucket is the step between window ends.
	Bucket time.Duration
	// From is the first window end the shard's partials count in full (a
	// processor that started without the records before its first one
	// cannot count the windows those records belong to); zero: every
	// window since the shard began.
	From time.Time
	// Through: every partial of the shard for a window ending at or before
	// Through, and at or after From, is written.
	Through time.Time
	// Ended: the shard was closed and every partial of its records is
	// written, for the windows after Through too. Records with a time after
	// Through belong to the shard's children.
	Ended bool
	// Host names the worker that wrote it.
	Host string
}

// ProgressWriter is a Writer that also records each shard's Progress. A
// processor writes its partials first and then the progress that covers
// them. The sinks of this module implement it; package aggregate writes
// through it when its Sink has it.
type ProgressWriter interface {
	Writer
	// WriteProgress records p for p.Shard. Progress only moves forward:
	// an older Through than the one stored is kept as stored, Ended stays
	// set once set, and the latest From, Parents and hash key range are
	// kept.
	WriteProgress(ctx context.Context, p Progress) error
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
	// time order: one per window end, merged from the window's partials
	// (see Merge), with Complete set. It includes, where progress says so,
	// complete windows of zero counts for which no shard wrote a partial,
	// so a group that went quiet still gets a snapshot at every step.
	Query(ctx context.Context, group string, since time.Time) ([]Snapshot, error)
}

// QueryComplete returns the group's complete snapshots from since on, in
// time order: what Query returns, without the windows that may still change.
func QueryComplete(ctx context.Context, r Reader, group string, since time.Time) ([]Snapshot, error) {
	snaps, err := r.Query(ctx, group, since)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(snaps, func(s Snapshot) bool { return !s.Complete }), nil
}
