// Package source reads records from a sharded stream and runs the application's
// code on them: Record, Processor and Checkpointer are what the application
// sees; Stream is what a backend (source/memstream, source/kinesisstream) provides;
// Consumer is the worker that shares a stream's shards with other workers
// through a lease table (package checkpoint) and runs one Processor per shard
// it holds.
package source

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Record is one record read from a shard. Data may share memory with the
// stream (memstream's does), and a failed batch is handed to the Processor
// again as it is: read it, keep it, but do not modify it.
type Record struct {
	Data              []byte
	PartitionKey      string
	SequenceNumber    string
	ShardID           string
	SubSequenceNumber int64
	// ArrivalTime is when the stream accepted the record: the record time
	// that windows should use unless the application decodes its own.
	ArrivalTime time.Time
}

// Sequence returns the record's place in its shard, the value a processor
// passes to CheckpointAt or CheckpointState to say it processed every record
// up to and including this one.
func (r *Record) Sequence() Sequence {
	return Sequence{Number: r.SequenceNumber, Sub: r.SubSequenceNumber}
}

// Sequence is the place of one record in its shard: its sequence number and
// its sub-sequence number (the index of a user record inside an aggregated
// Kinesis record, as kinesisstream de-aggregates them; 0 for a record that
// was not aggregated, and for every memstream record). It is
// what a checkpoint records: every record up to and including this one was
// processed. The zero value names no record. A Sequence is a plain value.
type Sequence struct {
	Number string
	Sub    int64
}

// IsZero reports whether s names no record.
func (s Sequence) IsZero() bool { return s.Number == "" && s.Sub == 0 }

// Compare returns -1, 0 or +1 as s comes before, at or after t in their
// shard. Sequence numbers compare as the decimal integers they are (Kinesis
// writes them in any length, memstream in one fixed length); the zero
// Sequence comes before every record. It costs O(len(s.Number)).
func (s Sequence) Compare(t Sequence) int {
	if c := cmp.Compare(len(s.Number), len(t.Number)); c != 0 {
		return c
	}
	if c := strings.Compare(s.Number, t.Number); c != 0 {
		return c
	}
	return cmp.Compare(s.Sub, t.Sub)
}

// String returns the sequence number, followed by "/" and the sub-sequence
// number when that is not 0.
func (s Sequence) String() string {
	if s.Sub == 0 {
		return s.Number
	}
	return s.Number + "/" + strconv.FormatInt(s.Sub, 10)
}

// PositionType says where a read starts.
type PositionType int

// The positions a shard can be read from, as Kinesis names them.
const (
	// TrimHorizon starts at the oldest record still retained.
	TrimHorizon PositionType = iota
	// Latest starts just after the newest record, at the time of Open.
	Latest
	// AtSequence starts at the record with Position.SequenceNumber.
	AtSequence
	// AfterSequence starts just after the record with Position.SequenceNumber.
	AfterSequence
	// AtTimestamp starts at the first record that arrived at or after
	// Position.Timestamp.
	AtTimestamp
)

// String returns the type's name as Kinesis writes it.
func (t PositionType) String() string {
	switch t {
	case TrimHorizon:
		return "TRIM_HORIZON"
	case Latest:
		return "LATEST"
	case AtSequence:
		return "AT_SEQUENCE_NUMBER"
	case AfterSequence:
		return "AFTER_SEQUENCE_NUMBER"
	case AtTimestamp:
		return "AT_TIMESTAMP"
	}
	return "PositionType(invalid)"
}

// Position is where a read of a shard starts. The zero value is TrimHorizon.
// It is a plain value.
type Position struct {
	Type           PositionType
	SequenceNumber string // for AtSequence and AfterSequence
	// SubSequenceNumber, with AtSequence and AfterSequence, names a user
	// record inside an aggregated Kinesis record (see Sequence). Streams
	// place a read by sequence number only, as Kinesis does, and ignore
	// it: the Consumer, to resume after a user record, opens at its
	// Kinesis record and drops the user records up to it.
	SubSequenceNumber int64
	Timestamp         time.Time // for AtTimestamp
}

// After returns the position just after the record at s.
func After(s Sequence) Position {
	return Position{Type: AfterSequence, SequenceNumber: s.Number, SubSequenceNumber: s.Sub}
}

// Shard describes one shard of a stream, as a plain value. Hash keys are
// unsigned 128-bit integers written in decimal, as Kinesis writes them.
type Shard struct {
	ID string
	// ParentID and AdjacentParentID name the shards this one came from: one
	// parent after a split, two after a merge, none for an original shard.
	ParentID         string
	AdjacentParentID string
	HashKeyStart     string
	HashKeyEnd       string
	// StartingSequenceNumber is the first sequence number the shard can
	// hold; EndingSequenceNumber is set once the shard is closed.
	StartingSequenceNumber string
	EndingSequenceNumber   string
}

// Parents returns the IDs of the shard's parents (zero, one or two).
func (s Shard) Parents() []string {
	var p []string
	if s.ParentID != "" {
		p = append(p, s.ParentID)
	}
	if s.AdjacentParentID != "" {
		p = append(p, s.AdjacentParentID)
	}
	return p
}

// Closed reports whether the shard takes no more records.
func (s Shard) Closed() bool { return s.EndingSequenceNumber != "" }

// Errors a Stream reports; backends wrap them so errors.Is finds them.
var (
	// ErrShardNotFound reports that no shard has the given ID (or that it
	// aged out).
	ErrShardNotFound = errors.New("source: shard not found")
	// ErrInvalidPosition reports a position that does not fit the shard
	// (no such sequence number in it, or a malformed one).
	ErrInvalidPosition = errors.New("source: invalid position")
	// ErrStreamNotFound reports that the stream itself cannot be found:
	// it does not exist, or not in the region or account the client is
	// for, or the endpoint's host does not resolve (a misspelt region).
	// The error names the stream. A Consumer keeps retrying it for
	// Config.GiveUpAfter, then Run returns it.
	ErrStreamNotFound = errors.New("source: stream not found")
	// ErrAccessDenied reports that the stream's backend refused the
	// caller: bad, missing or expired credentials, or no permission for
	// the call. The error names the stream and the call. A Consumer treats
	// it as ErrStreamNotFound.
	ErrAccessDenied = errors.New("source: access to the stream denied")
)

// Stream is a sharded stream: Amazon Kinesis, or the embedded memstream.
// Implementations are safe for concurrent use; each ShardReader is used by one
// goroutine at a time.
type Stream interface {
	// Shards lists the stream's shards, open and closed, with their parents
	// and hash ranges.
	Shards(ctx context.Context) ([]Shard, error)
	// Open starts reading a shard from a position.
	Open(ctx context.Context, shardID string, from Position) (ShardReader, error)
}

// ShardReader reads one shard in order.
type ShardReader interface {
	// Read returns at most max records that follow the ones returned before
	// (possibly none, if none has arrived). It does not wait for records to
	// arrive, but it may pace itself to stay within the backend's limits.
	Read(ctx context.Context, max int) (ReadResult, error)
	// Close releases what the reader holds.
	Close() error
}

// ReadResult is one Read's worth of a shard, owned by the caller.
type ReadResult struct {
	Records []Record
	// MillisBehindLatest is how far the reader is behind the newest record
	// of the shard, as Kinesis reports it: 0 when caught up.
	MillisBehindLatest int64
	// End reports that the shard is closed and every record was returned:
	// SHARD_END. No Read after it returns records.
	End bool
	// Children, with End, are the shards that hold the closed shard's hash
	// keys from now on, when the stream says (Kinesis's ChildShards): the
	// Consumer then creates their leases at once, without listing the
	// stream's shards. Nil when the stream does not say.
	Children []Shard
}

// Waiter is implemented by ShardReaders that can tell when new records may be
// available, so an idle reader sleeps until then instead of polling. The
// Consumer finds it by type assertion.
type Waiter interface {
	// Wait blocks until a Read may return new records, or ctx ends.
	Wait(ctx context.Context) error
}

// InitInput tells a Processor which shard it runs on and where it starts.
// It is a plain value, owned by the processor.
type InitInput struct {
	ShardID string
	// Start is where the processor's first record comes from: After the
	// record the shard was checkpointed at (its Sequence is then
	// {Start.SequenceNumber, Start.SubSequenceNumber}), or, for a shard
	// never checkpointed, TrimHorizon, Latest or AtTimestamp (with the
	// Consumer's Timestamp) as Config.InitialPosition says.
	Start Position
	// State is the processor state saved with that checkpoint through a
	// StateCheckpointer, or nil: it covers exactly the records up to the
	// checkpoint, so restoring it and reading on loses and repeats nothing.
	State []byte
	// Parents are the shards this one was split or merged from (none for
	// an original shard): a processor that starts afresh on a child knows
	// that records before its first one live in its parents.
	Parents []string
	// Shard is the shard as the stream lists it: its hash key range and
	// parents, which a processor that writes partial results records so
	// that readers can tell when every shard has written its part. Its ID
	// is always ShardID; the rest is empty only if the stream could not be
	// listed when the processor started.
	Shard Shard
}

// Processor is the application's code for one shard, with the lifecycle of
// the Kinesis Client Library's record processor. The Consumer calls its
// methods from one goroutine, in this order: Initialize, then ProcessRecords
// any number of times, then exactly one of LeaseLost, ShardEnded or
// ShutdownRequested.
type Processor interface {
	// Initialize is called once before the first batch.
	Initialize(ctx context.Context, in InitInput) error
	// ProcessRecords handles one batch. If it returns an error the Consumer
	// retries the same batch, with backoff: nothing is skipped.
	ProcessRecords(ctx context.Context, records []Record, cp Checkpointer) error
	// LeaseLost: another worker took the shard. Checkpointing is no longer
	// possible; release what the processor holds.
	LeaseLost(ctx context.Context) error
	// ShardEnded: the shard was closed by a reshard and fully read. The
	// processor must call cp.Checkpoint, which records SHARD_END; the
	// shard's children do not start until it has.
	ShardEnded(ctx context.Context, cp Checkpointer) error
	// ShutdownRequested: the Consumer is stopping gracefully. cp still
	// works; checkpoint what was processed so the next owner starts there.
	ShutdownRequested(ctx context.Context, cp Checkpointer) error
}

// IdleProcessor is a Processor that acts on time passing while its shard
// has no new records: windows that close by the clock, a watermark that
// moves on. The Consumer finds it by type assertion.
type IdleProcessor interface {
	Processor
	// ProcessIdle is called in the place of ProcessRecords after a read
	// that found no new records while the reader was caught up with the
	// shard: about once per Config.IdleWait while the shard stays quiet,
	// never before Initialize or after the last hook. cp works as in
	// ProcessRecords, where Checkpoint records the last batch accepted. An
	// error is logged and the call made again at the next idle read; it
	// skips no record.
	ProcessIdle(ctx context.Context, cp Checkpointer) error
}

// ErrInvalidCheckpoint reports a position a Checkpointer refuses, and so
// writes nothing for: one whose Number is not a decimal sequence number (empty,
// or a lease table's special value), one after the last record delivered to
// this processor, or one before the shard's current checkpoint.
var ErrInvalidCheckpoint = errors.New("source: invalid checkpoint")

// Checkpointer records how far a shard was processed. The Consumer's
// Checkpointers are safe for concurrent use and go on working after the call
// they were passed to returns, as long as the lease is held. Each call is at
// most one conditional write to the lease table; one that changes neither the
// checkpoint nor a saved state writes nothing.
type Checkpointer interface {
	// Checkpoint records the batch the Checkpointer came with: in
	// ProcessRecords, that batch; in ShutdownRequested, the last batch
	// ProcessRecords accepted (a batch that failed is never claimed); in
	// ShardEnded, the end of the shard. Records the checkpoint covers
	// already are not recorded again.
	Checkpoint(ctx context.Context) error
	// CheckpointAt records every record up to and including at as
	// processed. at must lie between the shard's checkpoint and the last
	// record delivered to this processor; otherwise the error wraps
	// ErrInvalidCheckpoint and nothing is written.
	CheckpointAt(ctx context.Context, at Sequence) error
}

// StateCheckpointer is a Checkpointer that also saves the processor's own
// state (for example an encoded window) in the same conditional write as the
// checkpoint (checkpoint.Lease.State), so a new owner restores state and
// position together. The Consumer's Checkpointers implement it; processors
// find it by type assertion.
//
// A Checkpoint or CheckpointAt that moves the checkpoint removes a saved
// state, which would no longer cover the records before the checkpoint.
type StateCheckpointer interface {
	Checkpointer
	// CheckpointState records at as CheckpointAt does, and state beside it:
	// the state must cover exactly the records up to and including at. A
	// nil state removes a saved one. A state larger than the lease store
	// holds fails with checkpoint.ErrStateTooLarge and writes nothing.
	CheckpointState(ctx context.Context, at Sequence, state []byte) error
}

// HandlerFunc adapts a plain function to a Processor: it is called for every
// batch, the shard is checkpointed after every batch it accepts (one lease
// write per batch), at the end of a shard, and on shutdown. A record is
// processed again after a failover only if it came after the last
// checkpoint: at most one batch per shard. The Consumer calls it from one
// goroutine per shard, so a function shared by several shards must be safe
// for concurrent use.
type HandlerFunc func(ctx context.Context, records []Record) error

// Initialize does nothing.
func (f HandlerFunc) Initialize(context.Context, InitInput) error { return nil }

// ProcessRecords calls f, then checkpoints the batch.
func (f HandlerFunc) ProcessRecords(ctx context.Context, records []Record, cp Checkpointer) error {
	if err := f(ctx, records); err != nil {
		return err
	}
	return cp.Checkpoint(ctx)
}

// LeaseLost does nothing.
func (f HandlerFunc) LeaseLost(context.Context) error { return nil }

// ShardEnded checkpoints the end of the shard.
func (f HandlerFunc) ShardEnded(ctx context.Context, cp Checkpointer) error {
	return cp.Checkpoint(ctx)
}

// ShutdownRequested checkpoints what was processed.
func (f HandlerFunc) ShutdownRequested(ctx context.Context, cp Checkpointer) error {
	return cp.Checkpoint(ctx)
}
