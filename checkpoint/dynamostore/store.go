// Package dynamostore is a checkpoint.Store on a DynamoDB table, so Consumers on
// many machines can share the shards of a stream.
//
// Items use the Java Kinesis Client Library's attribute names (leaseKey,
// leaseOwner, leaseCounter, checkpoint, checkpointSubSequenceNumber,
// ownerSwitchesSinceCheckpoint, parentShardId), so a team can inspect the
// table with the tools it knows; a requested hand-off is kept in pendingOwner,
// which the KCL does not have. Every change is one conditional UpdateItem (or
// DeleteItem) on the lease counter and owner, never a whole-item PutItem, so
// no worker can wipe attributes written by another: a failed condition is
// checkpoint.ErrLeaseLost. Throttling is retried with backoff and jitter
// (logged, rate-limited, through WithLogger), then reported as a
// *ThrottledError. A table that does not exist is checkpoint.ErrTableNotFound
// and refused credentials or permissions checkpoint.ErrAccessDenied, both at
// once, without retries; every error names the table.
//
// A processor's state rides in the lease item (processorState) up to
// MaxStateSize, and every renewal then moves and bills it. With a state table
// (WithStateTable, CreateStateTable) states up to MaxTableStateSize live
// beside the lease instead, written before the checkpoint that names them, so
// a lease item stays under a kilobyte and a crash at any point leaves the old
// state or the new one; see state.go for the layout.
package dynamostore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/awserr"
	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/callhook"
	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/internal/option"
	"github.com/streamtop/streamtop/internal/ratelog"
)

// ErrInvalidOption reports a bad argument to New or CreateTable.
var ErrInvalidOption = errors.New("checkpoint/dynamostore: invalid option")

// MaxStateSize is the largest Lease.State the Store writes: 384 KiB. A lease
// is one item, and DynamoDB refuses items over 400 KB (409,600 bytes,
// attribute names included); the other 16 KiB are left to the rest of the
// lease, whose attributes take about 200 bytes plus its key, owner, pending
// owner, checkpoint and parents (a Kinesis lease: well under 1 KiB). A larger
// state is refused before any request; so is, by DynamoDB, a state under the
// bound on a lease whose other attributes outgrow the reserve. Both are
// errors wrapping checkpoint.ErrStateTooLarge, and nothing is written.
//
// Mind the cost of a large state: DynamoDB charges a write by the larger of
// the item before and after it, so every renewal of a lease holding s bytes of
// state costs s/1 KiB write units, and the Store's responses carry the state.
// WithStateTable avoids both.
const MaxStateSize = 384 << 10

// Client is the part of *dynamodb.Client that a Store calls: GetItem,
// UpdateItem, DeleteItem and Scan. A *dynamodb.Client has it; so can a
// wrapper that adds metrics, or a fake in a test. A Store calls it from
// every goroutine that uses the Store, so it must be safe for concurrent
// use, as the SDK's client is.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Store is a checkpoint.Store on one DynamoDB table, made with New.
//
// The zero value is not usable. A Store is safe for concurrent use: the
// table arbitrates between writers, and all a Store keeps besides its
// configuration is, with a state table, the manifest of each lease's state
// it last wrote or read (about 20 bytes per 12 KiB of state), so that the
// next checkpoint writes only the chunks that changed. Get and every write cost one DynamoDB request (more when
// throttled); reads are strongly consistent, so a worker sees its own and
// others' last writes. A Take that loses costs a second request, a read
// that tells a stale counter from a view with the wrong owner. List costs one
// Scan request per megabyte of table and O(n log n) to sort n leases.
type Store struct {
	client     Client
	table      *string
	stateTable *string // WithStateTable's, or nil

	attempts int // calls per request while DynamoDB throttles
	backoff  backoff.Policy
	log      *slog.Logger // nil: no logging
	warns    *ratelog.Limiter
	hooks    []hook.Hook

	// With a state table: the manifest of each lease's generation last
	// written or read, whose chunks the next checkpoint may reuse.
	mu    sync.Mutex
	last  map[string]*manifest
	stats struct{ stateBytes, stateChunks, generations atomic.Int64 }
}

// Stats are a Store's running figures, for metrics and tests.
type Stats struct {
	// StateBytesWritten counts the bytes written to the state table: new
	// chunks and the manifests of the generations that name them.
	StateBytesWritten int64
	// StateChunksWritten counts the chunk items written.
	StateChunksWritten int64
	// StateGenerations counts the checkpoints that named a generation in
	// the state table.
	StateGenerations int64
}

// Stats returns the Store's figures since New. It is safe for concurrent
// use and costs three atomic loads.
func (s *Store) Stats() Stats {
	return Stats{
		StateBytesWritten:  s.stats.stateBytes.Load(),
		StateChunksWritten: s.stats.stateChunks.Load(),
		StateGenerations:   s.stats.generations.Load(),
	}
}

var _ checkpoint.Store = (*Store)(nil)

// Defaults of the options.
const (
	// DefaultMaxAttempts is how many calls the Store makes for one request
	// while DynamoDB throttles it (WithMaxAttempts).
	DefaultMaxAttempts = 6
	// DefaultBackoffBase and DefaultBackoffMax bound the wait between those
	// calls (WithBackoff).
	DefaultBackoffBase = 50 * time.Millisecond
	DefaultBackoffMax  = time.Second
)

// Option configures a Store in New. WithMaxAttempts, WithBackoff,
// WithLogger and WithHooks make one. An Option is a plain value, safe to share and reuse; it checks its
// argument when New applies it, and a bad one (or a nil Option) makes New
// return an error wrapping ErrInvalidOption that names the option and value.
type Option interface {
	apply(*Store) error
}

type optionFunc func(*Store) error

func (f optionFunc) apply(s *Store) error { return f(s) }

// WithMaxAttempts sets how many calls the Store makes for one request while
// DynamoDB throttles it, at least 1 (default DefaultMaxAttempts); after the
// last, the error is a *ThrottledError. The SDK client's own retryer runs
// inside each call.
func WithMaxAttempts(n int) Option {
	return optionFunc(func(s *Store) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxAttempts(%d): want >= 1", ErrInvalidOption, n)
		}
		s.attempts = n
		return nil
	})
}

// WithBackoff sets the wait before retrying a throttled request: before
// the n-th retry, a random time between half and all of min(max, base·2ⁿ).
// The defaults are DefaultBackoffBase and DefaultBackoffMax; base must be
// positive and max at least base.
func WithBackoff(base, max time.Duration) Option {
	return optionFunc(func(s *Store) (err error) {
		s.backoff, err = backoff.New(base, max, ErrInvalidOption)
		return err
	})
}

// WithLogger sets where the Store logs the throttled calls it retries: a
// warning naming the table, the call and the lease key, at most one per
// operation every 10 s (ratelog.DefaultEvery) with the count of those held
// back. It never logs a lease's state. A nil logger turns logging off, the
// default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(s *Store) error {
		s.log = l
		return nil
	})
}

// WithHooks adds hooks that the Store reports to: each DynamoDB call it
// makes, retries included, goes to the hook.Calls among them as a
// hook.Call of Adapter "dynamostore". Hooks implementing none of hook's
// interfaces are ignored; with no hook.Calls the Store reads no clock for
// them.
func WithHooks(hs ...hook.Hook) Option {
	return optionFunc(func(s *Store) error {
		s.hooks = append(s.hooks, hs...)
		return nil
	})
}

// New returns a Store on table, through client (usually a *dynamodb.Client).
// The table must exist; CreateTable makes it.
func New(client Client, table string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if err := ddb.ValidTableName(table, ErrInvalidOption); err != nil {
		return nil, err
	}
	s := &Store{
		client:   client,
		table:    aws.String(table),
		attempts: DefaultMaxAttempts,
		backoff:  backoff.Policy{Base: DefaultBackoffBase, Max: DefaultBackoffMax},
		warns:    &ratelog.Limiter{},
	}
	if err := option.Apply(s, ErrInvalidOption, opts, Option.apply); err != nil {
		return nil, err
	}
	if _, ok := client.(StateClient); s.stateTable != nil && !ok {
		return nil, fmt.Errorf("%w: WithStateTable: the client (%T) has no BatchWriteItem and Query", ErrInvalidOption, client)
	}
	// The Store's own policy retries every call; the SDK's would multiply
	// the attempts.
	s.client = ddb.Once{C: client, Obs: callhook.New("dynamostore", s.hooks)}
	return s, nil
}

// listed are the attributes List reads: all but processorState, which a
// Consumer's every sync would otherwise move for every lease in the table,
// at up to MaxStateSize each.
var listed = []string{attrKey, attrOwner, attrCounter, attrCheckpoint, attrSubSequence, attrSwitches, attrParents, attrPendingOwner}

// listProjection is the ProjectionExpression of listed, and listNames its
// placeholders (several of the names are DynamoDB reserved words).
var listProjection, listNames = func() (string, map[string]string) {
	names := make(map[string]string, len(listed))
	refs := make([]string, len(listed))
	for i, a := range listed {
		refs[i] = fmt.Sprintf("#p%d", i)
		names[refs[i]] = a
	}
	return strings.Join(refs, ", "), names
}()

// List returns every lease, in key order, without its state: the Scan
// projects processorState out.
func (s *Store) List(ctx context.Context) ([]checkpoint.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		leases []checkpoint.Lease
		start  map[string]types.AttributeValue
	)
	for {
		out, err := retry(ctx, s, "list", "", func(ctx context.Context) (*dynamodb.ScanOutput, error) {
			return s.client.Scan(ctx, &dynamodb.ScanInput{
				TableName:                s.table,
				ConsistentRead:           aws.Bool(true),
				ExclusiveStartKey:        start,
				ProjectionExpression:     aws.String(listProjection),
				ExpressionAttributeNames: listNames,
			})
		})
		if err != nil {
			return nil, s.wrap("list", "", err)
		}
		for _, item := range out.Items {
			l, err := decode(item)
			if err != nil {
				return nil, err
			}
			leases = append(leases, l)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	slices.SortFunc(leases, func(a, b checkpoint.Lease) int { return cmp.Compare(a.Key, b.Key) })
	return leases, nil
}

// Get returns the lease stored under key, or checkpoint.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (checkpoint.Lease, error) {
	if err := ctx.Err(); err != nil {
		return checkpoint.Lease{}, err
	}
	l, found, err := s.get(ctx, "get", key)
	if err != nil {
		return checkpoint.Lease{}, err
	}
	if !found {
		return checkpoint.Lease{}, fmt.Errorf("%w: %q", checkpoint.ErrNotFound, key)
	}
	return l, nil
}

func (s *Store) get(ctx context.Context, op, key string) (checkpoint.Lease, bool, error) {
	item, err := s.getItem(ctx, op, key)
	if err != nil || len(item) == 0 {
		return checkpoint.Lease{}, false, err
	}
	l, err := s.finish(ctx, op, key, item, nil)
	return l, err == nil, err
}

// getItem reads key's lease item, consistently; an empty item if there is
// none.
func (s *Store) getItem(ctx context.Context, op, key string) (map[string]types.AttributeValue, error) {
	out, err := retry(ctx, s, op, key, func(ctx context.Context) (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      s.table,
			Key:            keyOf(key),
			ConsistentRead: aws.Bool(true),
		})
	})
	if err != nil {
		return nil, s.wrap(op, key, err)
	}
	return out.Item, nil
}

// finish decodes a lease item, with its state: inline, or, if the item names
// a generation in the state table, read from there (Get and Take), or, for
// the owner's other writes, which never change a state, the caller's own
// (prev).
func (s *Store) finish(ctx context.Context, op, key string, item map[string]types.AttributeValue, prev []byte) (checkpoint.Lease, error) {
	l, err := decode(item)
	if err != nil {
		return l, err
	}
	gen := parseGen(item)
	if s.stateTable != nil {
		s.saw(key, gen)
	}
	switch {
	case gen == "":
	case s.stateTable == nil:
		return checkpoint.Lease{}, fmt.Errorf("checkpoint/dynamostore: %s %q: the lease's state is in a state table, and the Store has none (WithStateTable)", op, key)
	case op == "get" || op == "take":
		l.State, err = s.getState(ctx, op, key, gen)
		if errors.Is(err, errCorruptState) {
			// The lease is what it is (a Take has taken it): it comes
			// without its state, which the processor then does without,
			// as after a state it cannot read. Said, not silent.
			if s.log != nil {
				s.log.Error("lease's state in the state table is unreadable; the lease comes without it",
					"table", *s.stateTable, "lease", key, "err", err)
			}
			return l, nil
		}
		if err != nil {
			return checkpoint.Lease{}, err
		}
	default:
		l.State = slices.Clone(prev)
	}
	return l, nil
}

// Create stores a new, unowned lease with Counter 0 from l's Key, Checkpoint,
// SubSequence and Parents, if the key is free. Parents are stored as a string
// set: they come back sorted and without duplicates.
func (s *Store) Create(ctx context.Context, l checkpoint.Lease) (bool, error) {
	if l.Key == "" {
		return false, fmt.Errorf("checkpoint/dynamostore: create: empty lease key")
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var u update
	u.condition("attribute_not_exists(%s)", u.name(attrKey))
	u.set(attrCounter, ddb.Num(0))
	u.setOrRemove(attrCheckpoint, l.Checkpoint)
	u.set(attrSubSequence, ddb.Num(l.SubSequence))
	u.set(attrSwitches, ddb.Num(0))
	if len(l.Parents) > 0 {
		parents := slices.Compact(slices.Sorted(slices.Values(l.Parents)))
		u.set(attrParents, &types.AttributeValueMemberSS{Value: parents})
	}
	_, err := s.apply(ctx, "create", l.Key, &u, nil)
	if errors.Is(err, checkpoint.ErrLeaseLost) {
		return false, nil
	}
	return err == nil, err
}

// Take makes owner the owner of the lease, conditional on l.Counter.
func (s *Store) Take(ctx context.Context, l checkpoint.Lease, owner string) (checkpoint.Lease, error) {
	// A lease owned by "" would look released to every other worker.
	if owner == "" {
		return checkpoint.Lease{}, fmt.Errorf("checkpoint/dynamostore: take %q: empty owner", l.Key)
	}
	if err := ctx.Err(); err != nil {
		return checkpoint.Lease{}, err
	}
	// The switch count depends on the stored owner, which an update
	// expression cannot test, so the write is conditional on the owner the
	// caller saw as well as the counter. The owner only changes with the
	// counter, so that costs nothing for a caller with a true view; for a
	// view that got the owner wrong, the stored owner is read and the take
	// tried again, which Take's contract (conditional on the counter alone)
	// requires.
	for {
		var u update
		u.condition("%s = %s", u.name(attrCounter), u.value(ddb.Num(l.Counter)))
		if l.Owner == "" {
			u.condition("attribute_not_exists(%s)", u.name(attrOwner))
		} else {
			u.condition("%s = %s", u.name(attrOwner), u.value(str(l.Owner)))
		}
		u.set(attrOwner, str(owner))
		u.set(attrCounter, ddb.Num(l.Counter+1))
		u.ours = true
		if l.Owner != owner {
			u.clauses = append(u.clauses, fmt.Sprintf("%s = if_not_exists(%[1]s, %s) + %s",
				u.name(attrSwitches), u.value(ddb.Num(0)), u.value(ddb.Num(1))))
		}
		u.remove(attrPendingOwner)
		got, err := s.apply(ctx, "take", l.Key, &u, nil)
		if !errors.Is(err, checkpoint.ErrLeaseLost) {
			return got, err
		}
		stored, found, gerr := s.get(ctx, "take", l.Key)
		if gerr != nil || !found || stored.Counter != l.Counter || stored.Owner == l.Owner {
			return checkpoint.Lease{}, err
		}
		l.Owner = stored.Owner
	}
}

// Renew advances the counter, conditional on l.Counter and l.Owner.
func (s *Store) Renew(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.byOwner(ctx, "renew", l, func(u *update) {
		u.set(attrCounter, ddb.Num(l.Counter+1))
	})
}

// Checkpoint stores l.Checkpoint, l.SubSequence and l.State (as the binary
// attribute processorState), conditional on l.Counter and l.Owner. An empty
// or nil state removes the attribute. A state over MaxStateSize is refused
// with checkpoint.ErrStateTooLarge without a request.
//
// With a state table (WithStateTable), a state over InlineStateSize is
// written there first, as a new generation, and the lease item names it; the
// bound is then MaxTableStateSize. The generations the lease no longer names
// are deleted after the checkpoint; if that fails, the next checkpoint
// deletes them.
func (s *Store) Checkpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if s.stateTable != nil {
		return s.checkpointTable(ctx, l)
	}
	if len(l.State) > MaxStateSize {
		return checkpoint.Lease{}, fmt.Errorf("%w: checkpoint %q: state of %d bytes, at most %d fit in a lease item",
			checkpoint.ErrStateTooLarge, l.Key, len(l.State), MaxStateSize)
	}
	return s.byOwner(ctx, "checkpoint", l, func(u *update) {
		if len(l.State) > 0 {
			u.set(attrState, &types.AttributeValueMemberB{Value: l.State})
		} else {
			u.remove(attrState)
		}
		u.setOrRemove(attrCheckpoint, l.Checkpoint)
		u.set(attrSubSequence, ddb.Num(l.SubSequence))
		u.set(attrSwitches, ddb.Num(0))
		u.set(attrCounter, ddb.Num(l.Counter+1))
	})
}

// checkpointTable is Checkpoint with a state table.
func (s *Store) checkpointTable(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if len(l.State) > MaxTableStateSize {
		return checkpoint.Lease{}, fmt.Errorf("%w: checkpoint %q: state of %d bytes, at most %d fit in the state table",
			checkpoint.ErrStateTooLarge, l.Key, len(l.State), MaxTableStateSize)
	}
	if l.Owner == "" {
		return s.byOwner(ctx, "checkpoint", l, func(*update) {}) // refused: not an owner
	}
	var (
		gen   string
		m     *manifest
		fresh []chunkRef
		prev  = s.remembered(l.Key)
	)
	if len(l.State) > InlineStateSize {
		gen = newGeneration()
		var err error
		if m, fresh, err = s.putState(ctx, l.Key, gen, l.Counter, l.State, prev); err != nil {
			s.dropGeneration(ctx, l.Key, gen, fresh)
			return checkpoint.Lease{}, err
		}
	}
	got, err := s.byOwner(ctx, "checkpoint", l, func(u *update) {
		if prev != nil && m != nil {
			// m names prev's chunks, which exist while the lease names
			// prev: a lease that names another generation is another
			// owner's since.
			u.condition("%s = %s", u.name(attrStateGen), u.value(str(prev.gen)))
		}
		if gen == "" && len(l.State) > 0 {
			u.set(attrState, &types.AttributeValueMemberB{Value: l.State})
		} else {
			u.remove(attrState)
		}
		if gen != "" {
			u.set(attrStateGen, str(gen))
		} else {
			u.remove(attrStateGen)
		}
		u.setOrRemove(attrCheckpoint, l.Checkpoint)
		u.set(attrSubSequence, ddb.Num(l.SubSequence))
		u.set(attrSwitches, ddb.Num(0))
		u.set(attrCounter, ddb.Num(l.Counter+1))
	})
	if err != nil {
		s.remember(l.Key, nil)
		if gen != "" && errors.Is(err, checkpoint.ErrLeaseLost) && !s.names(ctx, l.Key, gen) {
			// Refused: nothing names gen, and nothing will. (A refusal
			// of a retry whose first attempt went through, its answer
			// lost, leaves gen named: the checkpoint's owner finds out
			// at its next write.) Any other error may hide a write that
			// went through as well, so gen stays for collect, which
			// keeps it if it is named.
			s.dropGeneration(ctx, l.Key, gen, fresh)
		}
		return checkpoint.Lease{}, err
	}
	s.remember(l.Key, m)
	if m != nil {
		s.stats.generations.Add(1)
	}
	// The lease names gen alone now; the rest is garbage. A failure here
	// leaves it for the next checkpoint, and the checkpoint stands.
	_ = s.collect(ctx, l.Key, m, l.Counter)
	return got, nil
}

// RequestHandoff records by as the pending owner, conditional on l.Counter
// and l.Owner, without advancing the counter.
func (s *Store) RequestHandoff(ctx context.Context, l checkpoint.Lease, by string) (checkpoint.Lease, error) {
	if by == "" {
		return checkpoint.Lease{}, fmt.Errorf("checkpoint/dynamostore: request hand-off of %q: empty requester", l.Key)
	}
	return s.byOwner(ctx, "request hand-off", l, func(u *update) {
		u.set(attrPendingOwner, str(by))
	})
}

// Handoff moves the lease to l.PendingOwner, conditional on l.Counter,
// l.Owner and l.PendingOwner.
func (s *Store) Handoff(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if l.PendingOwner == "" {
		return checkpoint.Lease{}, fmt.Errorf("checkpoint/dynamostore: hand off %q: no pending owner", l.Key)
	}
	return s.byOwner(ctx, "hand off", l, func(u *update) {
		u.condition("%s = %s", u.name(attrPendingOwner), u.value(str(l.PendingOwner)))
		u.set(attrOwner, str(l.PendingOwner))
		u.set(attrCounter, ddb.Num(l.Counter+1))
		if l.Owner != l.PendingOwner {
			u.clauses = append(u.clauses, fmt.Sprintf("%s = if_not_exists(%[1]s, %s) + %s",
				u.name(attrSwitches), u.value(ddb.Num(0)), u.value(ddb.Num(1))))
		}
		u.remove(attrPendingOwner)
	})
}

// Release leaves the lease with no owner and no pending owner, conditional on
// l.Counter and l.Owner. As the KCL does, the owner attribute is removed
// rather than set to an empty string.
func (s *Store) Release(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	return s.byOwner(ctx, "release", l, func(u *update) {
		u.set(attrCounter, ddb.Num(l.Counter+1))
		u.remove(attrOwner)
		u.remove(attrPendingOwner)
	})
}

// Delete removes the lease, conditional on l.Counter.
func (s *Store) Delete(ctx context.Context, l checkpoint.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var u update
	u.condition("%s = %s", u.name(attrCounter), u.value(ddb.Num(l.Counter)))
	_, err := retry(ctx, s, "delete", l.Key, func(ctx context.Context) (*dynamodb.DeleteItemOutput, error) {
		return s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 s.table,
			Key:                       keyOf(l.Key),
			ConditionExpression:       u.conditionExpression(),
			ExpressionAttributeNames:  u.names,
			ExpressionAttributeValues: u.values,
		})
	})
	if err == nil && s.stateTable != nil {
		// No lease names any state of this key now; a failure leaves
		// garbage that nothing reads.
		s.remember(l.Key, nil)
		_ = s.collect(ctx, l.Key, nil, math.MaxInt64)
	}
	return s.wrap("delete", l.Key, err)
}

// byOwner applies an owner's write: conditional on l.Counter and l.Owner.
func (s *Store) byOwner(ctx context.Context, op string, l checkpoint.Lease, build func(*update)) (checkpoint.Lease, error) {
	if err := ctx.Err(); err != nil {
		return checkpoint.Lease{}, err
	}
	// Nobody owns a released lease, so nobody may write to it as its owner;
	// the table need not be asked.
	if l.Owner == "" {
		return checkpoint.Lease{}, fmt.Errorf("%w: %s %q: caller is not an owner", checkpoint.ErrLeaseLost, op, l.Key)
	}
	var u update
	u.condition("%s = %s", u.name(attrCounter), u.value(ddb.Num(l.Counter)))
	u.condition("%s = %s", u.name(attrOwner), u.value(str(l.Owner)))
	u.ours = true
	build(&u)
	return s.apply(ctx, op, l.Key, &u, l.State)
}

// apply runs u as one conditional UpdateItem and returns the lease as stored
// after it (see finish for its state; prev is the caller's).
//
// An attempt that fails transiently may still have been applied: its
// answer was lost (a dropped connection, a timeout), not its write. The
// next attempt then finds its own write and fails the condition. So when an
// update that names its lease's next counter (u.ours) fails its condition
// after such an attempt, apply reads the item back, and if it holds every
// value the update sets and none it removes, the write was this call's:
// apply returns the lease as stored, not checkpoint.ErrLeaseLost.
func (s *Store) apply(ctx context.Context, op, key string, u *update, prev []byte) (checkpoint.Lease, error) {
	unsure := false
	out, err := retry(ctx, s, op, key, func(ctx context.Context) (*dynamodb.UpdateItemOutput, error) {
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 s.table,
			Key:                       keyOf(key),
			ConditionExpression:       u.conditionExpression(),
			UpdateExpression:          u.updateExpression(),
			ExpressionAttributeNames:  u.names,
			ExpressionAttributeValues: u.values,
			ReturnValues:              types.ReturnValueAllNew,
		})
		// A throttled call was refused; any other transient failure may
		// have been applied.
		if err != nil && !ddb.IsThrottle(err) && awserr.Transient(ctx, err) {
			unsure = true
		}
		return out, err
	})
	var failed *types.ConditionalCheckFailedException
	if unsure && u.ours && errors.As(err, &failed) {
		if item, gerr := s.getItem(ctx, op, key); gerr == nil && u.appliedTo(item) {
			return s.finish(ctx, op, key, item, prev)
		}
	}
	if err != nil {
		return checkpoint.Lease{}, s.wrap(op, key, err)
	}
	return s.finish(ctx, op, key, out.Attributes, prev)
}

// wrap translates a DynamoDB error at the boundary: a failed condition means
// the caller's view of the lease is stale; a missing table and a refused
// caller become checkpoint.ErrTableNotFound and checkpoint.ErrAccessDenied.
// Every message names the table.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var (
		failed *types.ConditionalCheckFailedException
		apiErr smithy.APIError
	)
	at := where(*s.table, op, key)
	switch {
	case errors.As(err, &failed):
		return fmt.Errorf("%w: %s: its counter or owner changed, or it is gone", checkpoint.ErrLeaseLost, at)
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" &&
		strings.Contains(apiErr.ErrorMessage(), "Item size"):
		// DynamoDB checks the whole item, after the update: the state fit
		// MaxStateSize but the rest of the lease outgrew the reserve.
		return fmt.Errorf("%w: %s: %w", checkpoint.ErrStateTooLarge, at, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case awserr.IsNotFound(err) || awserr.IsNoHost(err):
		return fmt.Errorf("checkpoint/dynamostore: %s: %w (create it with CreateTable, or check the region): %w",
			at, checkpoint.ErrTableNotFound, err)
	case awserr.IsDenied(err):
		return fmt.Errorf("checkpoint/dynamostore: %s: %w (check the credentials and the IAM policy): %w",
			at, checkpoint.ErrAccessDenied, err)
	}
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		return err
	}
	return fmt.Errorf("checkpoint/dynamostore: %s: %w", at, err)
}

// update collects one UpdateItem's expressions. Placeholders are made as
// they are used, because DynamoDB rejects names and values that no
// expression refers to.
type update struct {
	conditions []string
	clauses    []string // SET clauses
	removes    []string
	names      map[string]string
	values     map[string]types.AttributeValue
	sets       map[string]types.AttributeValue // the attributes set to a value, by name

	// ours says the update is conditional on the lease's counter and sets
	// the next: an item that holds every value it sets is its own write.
	ours bool
}

// appliedTo reports whether item holds every value u sets and none of the
// attributes it removes (see apply).
func (u *update) appliedTo(item map[string]types.AttributeValue) bool {
	if len(item) == 0 {
		return false
	}
	for attr, v := range u.sets {
		if !reflect.DeepEqual(item[attr], v) {
			return false
		}
	}
	for _, ph := range u.removes {
		if _, ok := item[u.names[ph]]; ok {
			return false
		}
	}
	return true
}

func (u *update) name(attr string) string {
	if u.names == nil {
		u.names = make(map[string]string)
	}
	ph := "#" + attr
	u.names[ph] = attr
	return ph
}

func (u *update) value(v types.AttributeValue) string {
	if u.values == nil {
		u.values = make(map[string]types.AttributeValue)
	}
	ph := fmt.Sprintf(":v%d", len(u.values))
	u.values[ph] = v
	return ph
}

func (u *update) condition(format string, args ...any) {
	u.conditions = append(u.conditions, fmt.Sprintf(format, args...))
}

func (u *update) set(attr string, v types.AttributeValue) {
	u.clauses = append(u.clauses, u.name(attr)+" = "+u.value(v))
	if u.sets == nil {
		u.sets = make(map[string]types.AttributeValue)
	}
	u.sets[attr] = v
}

// setOrRemove stores s, or removes the attribute when s is empty: an absent
// attribute is how the KCL writes "none".
func (u *update) setOrRemove(attr, s string) {
	if s == "" {
		u.remove(attr)
		return
	}
	u.set(attr, str(s))
}

func (u *update) remove(attr string) { u.removes = append(u.removes, u.name(attr)) }

func (u *update) conditionExpression() *string {
	return aws.String(strings.Join(u.conditions, " AND "))
}

func (u *update) updateExpression() *string {
	var b strings.Builder
	if len(u.clauses) > 0 {
		b.WriteString("SET " + strings.Join(u.clauses, ", "))
	}
	if len(u.removes) > 0 {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("REMOVE " + strings.Join(u.removes, ", "))
	}
	return aws.String(b.String())
}
