// Package checkpoint holds the leases through which Consumers share the shards
// of a stream, and the checkpoints that say how far each shard was processed.
//
// A Lease is owned by at most one worker. Every change to a lease is
// conditional on its counter (and, where it matters, its owner), so a worker
// that lost a lease can never write over the new owner: its write fails with
// ErrLeaseLost. The model is the Kinesis Client Library's lease table, so the
// DynamoDB Store in checkpoint/dynamostore can use the same attribute names.
package checkpoint

import (
	"context"
	"errors"
	"slices"
)

// Errors returned by every Store.
var (
	// ErrLeaseLost reports that a conditional write failed: the lease's
	// counter or owner is no longer what the caller last saw, or the lease
	// is gone. The caller must stop working on the shard.
	ErrLeaseLost = errors.New("checkpoint: lease lost")
	// ErrNotFound reports that no lease has the given key.
	ErrNotFound = errors.New("checkpoint: lease not found")
	// ErrStateTooLarge reports a Lease.State larger than the store can
	// hold. Nothing was written: the caller must shrink its state (or not
	// save one); it is never truncated.
	ErrStateTooLarge = errors.New("checkpoint: state too large")
	// ErrTableNotFound reports that the lease table itself cannot be
	// found: it does not exist, or not in the region or account the
	// client is for, or the endpoint's host does not resolve. The error
	// names the table. Unlike ErrNotFound it is about the table, not a
	// lease, and no retry heals it until someone creates the table.
	ErrTableNotFound = errors.New("checkpoint: lease table not found")
	// ErrAccessDenied reports that the lease table's backend refused the
	// caller: bad, missing or expired credentials, or no permission for
	// the call. The error names the table and the call.
	ErrAccessDenied = errors.New("checkpoint: access to the lease table denied")
)

// Checkpoint values with a special meaning, as the Kinesis Client Library
// writes them. Any other value is a sequence number.
const (
	// TrimHorizon: nothing processed yet; start at the oldest record.
	TrimHorizon = "TRIM_HORIZON"
	// Latest: nothing processed yet; start after the newest record.
	Latest = "LATEST"
	// AtTimestamp: nothing processed yet; start at the consumer's configured
	// timestamp.
	AtTimestamp = "AT_TIMESTAMP"
	// ShardEnd: the shard was closed by a reshard and processed to its end.
	// Its children may start.
	ShardEnd = "SHARD_END"
)

// Lease is one shard's row in the lease table.
//
// Counter grows by one on every successful write (take, renew, checkpoint,
// hand-off, release); other workers judge a lease expired when its counter has
// not moved for the failover time on their own clock. Checkpoint and
// SubSequence give the last record processed (or one of the special values
// above). Parents are the shards this one was split or merged from: a shard
// starts only after each parent's lease holds ShardEnd.
//
// PendingOwner is a hand-off request: a worker that wants this lease writes its
// ID there, and the owner, at its next safe point (after a batch and a
// checkpoint), transfers the lease to it. This gives a rebalance with no record
// processed twice, instead of a steal.
type Lease struct {
	Key                          string
	Owner                        string
	Counter                      int64
	Checkpoint                   string
	SubSequence                  int64
	Parents                      []string
	OwnerSwitchesSinceCheckpoint int64
	PendingOwner                 string
	// State is the processor's own state as of the checkpoint (for example
	// an encoded window), written in the same conditional write as the
	// checkpoint, so a new owner restores exactly the state that covers the
	// records before the checkpoint and replays only those after it. Nil
	// means no state. A Store may bound its size (MaxStateSize).
	State []byte
}

// Clone returns a copy of l that shares no memory with it.
func (l Lease) Clone() Lease {
	l.Parents = slices.Clone(l.Parents)
	l.State = slices.Clone(l.State)
	return l
}

// Store is a lease table. Implementations must be safe for concurrent use.
//
// Every method that changes a lease takes the lease as the caller last saw it
// and succeeds only if the stored counter (and, for the owner's own writes,
// the owner) still match; otherwise it returns ErrLeaseLost and changes
// nothing. On success it returns the lease as now stored, with the counter
// advanced. A write conditional on the owner also fails with ErrLeaseLost when
// l.Owner is empty: nobody owns a released lease, so nobody may write to it as
// its owner. Take and RequestHandoff reject an empty worker ID, and Handoff
// an empty l.PendingOwner, with an error that is not ErrLeaseLost.
type Store interface {
	// List returns every lease, in key order, without its State (nil):
	// a Consumer lists the table on every sync, and states can be large.
	// Get and every write return the lease with its State.
	List(ctx context.Context) ([]Lease, error)
	// Get returns one lease, or ErrNotFound.
	Get(ctx context.Context, key string) (Lease, error)
	// Create stores l if no lease has its key yet, with Counter 0 and no
	// owner. It reports whether it created the lease; an existing lease is
	// left as it is. Only Key, Checkpoint, SubSequence and Parents are taken
	// from l: a new lease has no pending owner and no owner switches.
	Create(ctx context.Context, l Lease) (bool, error)
	// Take makes owner the owner of l (expired, released, or taken from
	// another worker), conditional on l.Counter. If the owner changes,
	// OwnerSwitchesSinceCheckpoint grows by one. PendingOwner is cleared.
	Take(ctx context.Context, l Lease, owner string) (Lease, error)
	// Renew proves the owner is alive, conditional on l.Counter and l.Owner.
	// The returned lease carries the stored PendingOwner, so the owner learns
	// of hand-off requests.
	Renew(ctx context.Context, l Lease) (Lease, error)
	// Checkpoint stores l.Checkpoint, l.SubSequence and l.State (nil
	// removes a stored state), conditional on l.Counter and l.Owner, and
	// resets OwnerSwitchesSinceCheckpoint. A state larger than the store can
	// hold is refused with an error wrapping ErrStateTooLarge, and nothing
	// is written.
	Checkpoint(ctx context.Context, l Lease) (Lease, error)
	// RequestHandoff writes by into PendingOwner, conditional on l.Counter
	// and l.Owner; it does not advance the counter, so the owner's renewals
	// keep working.
	RequestHandoff(ctx context.Context, l Lease, by string) (Lease, error)
	// Handoff moves l from its owner to l.PendingOwner, conditional on
	// l.Counter, l.Owner and l.PendingOwner. The owner calls it after its
	// last checkpoint, so the new owner starts exactly where it stopped.
	Handoff(ctx context.Context, l Lease) (Lease, error)
	// Release gives l up (no owner), conditional on l.Counter and l.Owner,
	// so another worker can take it at once instead of after the failover
	// time. A pending hand-off request is cleared with the owner.
	Release(ctx context.Context, l Lease) (Lease, error)
	// Delete removes l, conditional on l.Counter.
	Delete(ctx context.Context, l Lease) error
}
