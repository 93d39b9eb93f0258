// Package dynamosink is a sink.ProgressWriter, sink.Reader and sink.Lister
// on a DynamoDB counts table shaped like the original web-traffic sample's,
// so the visualizer's results outlive its process and can be read from
// anywhere. One table holds one aggregation of one stream: the shards'
// progress is kept once per table, whatever the group (see package sink).
//
// # Items
//
// One item per group and window end holds every snapshot of that window:
//
//	resource        S   hash key: Snapshot.Group
//	timestamp       S   range key: Snapshot.Time, ISO-8601 UTC with milliseconds
//	                    (2006-01-02T15:04:05.000Z), so the range key sorts by time
//	windowMs        N   Snapshot.Window in milliseconds, of the last snapshot
//	                    written to the item
//	expiresAt       N   epoch seconds after which DynamoDB's TTL may delete the item
//
//	the whole snapshot (Shard empty), as the original sample wrote it:
//	referrerCounts  L   Snapshot.Counts in order, each a map {referrer S, count N},
//	                    with err N when the count is approximate (Entry.Err > 0)
//	host            S   Snapshot.Host (absent when empty)
//	floor           N   Snapshot.Floor (absent when 0)
//
//	each shard's partial (Shard set):
//	p#<Shard>       M   {counts S, floor N, k N (absent when 0),
//	                    host S (absent when empty)}:
//	                    counts is Snapshot.Counts in order as JSON text,
//	                    [{"k": key, "c": count, "e": err (absent when 0)}, …],
//	                    half the size of a list of maps and far faster to read
//
// Every write is an UpdateItem that sets only its own snapshot's attributes
// (and the item's windowMs and expiresAt). So partials of different shards
// written at the same time never overwrite each other, a shard's rewrite
// replaces its own, and a whole snapshot and partials of one window end sit
// side by side on the item; a reader merges all it finds there, as
// sink.Merge does: a whole snapshot is summed with the partials beside it
// and makes the window Complete. An aggregation writes either whole
// snapshots or partials, so the two meet on an item only where one
// changed to the other. An item without partials reads as a whole
// snapshot, referrerCounts or not, as items written before partials did.
//
// The shards' progress is one more item, under a group no snapshot may
// have (Write refuses it, Groups leaves it out, Query finds nothing there):
//
//	resource        S   "streamtop#progress"
//	timestamp       S   "progress"
//	s#<Shard>       M   sink.Progress: {parents L of S, hashKeyStart S,
//	                    hashKeyEnd S, bucketMs N, from S, through S (as
//	                    timestamp; absent when zero), ended BOOL, host S,
//	                    version N (counts the writes, for WriteProgress's
//	                    condition)}
//
// It has no expiresAt, so it is never deleted. DynamoDB's 400 KB limit on
// an item bounds the partials of one window end together (about 80 partials
// of 100 referrers, at 50 bytes of JSON a referrer) and the progress of
// every shard the table has seen (about 270 bytes a shard: some 1,500
// shards); a write past it fails with DynamoDB's ValidationException.
//
// DynamoDB bills an UpdateItem by the size of the whole item, so a window
// end's partials cost more write units together than items of their own
// would: the k-th partial written pays for the k already there. For 8
// shards of 10 referrers (about 500 bytes a partial) that is about 24 write
// units a window end instead of 8; reads, by contrast, get cheaper, one
// item per window end.
//
// Times are kept to the millisecond: snapshots of one group less than a
// millisecond apart are one snapshot. Expiry is judged on data time (the
// snapshot's Time plus the TTL), and reads skip expired items themselves,
// since DynamoDB deletes them only eventually and local emulators never.
package dynamosink

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/awserr"
	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/callhook"
	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/internal/option"
	"github.com/streamtop/streamtop/internal/ratelog"
	"github.com/streamtop/streamtop/sink"
)

// ErrInvalidOption reports a bad argument to New or CreateTable. It wraps
// sink.ErrInvalidOption, so either can be tested for.
var ErrInvalidOption = fmt.Errorf("sink/dynamosink: %w", sink.ErrInvalidOption)

// Defaults of the options.
const (
	// DefaultTTL is how long a snapshot is kept unless WithTTL says
	// otherwise: a day of history for charts and after-the-fact questions.
	DefaultTTL = 24 * time.Hour
	// DefaultBackoffBase and DefaultBackoffMax bound the wait before a
	// retry (WithBackoff).
	DefaultBackoffBase = 25 * time.Millisecond
	DefaultBackoffMax  = 2 * time.Second
)

// writesInFlight bounds the UpdateItem requests one Write has in flight:
// UpdateItem has no batch form, and a bucket's snapshots (groups × shards)
// written one at a time would wait a round trip each.
const writesInFlight = 8

// Client is the part of *dynamodb.Client that a Sink calls: UpdateItem,
// GetItem, Query and Scan. A *dynamodb.Client has it; so can a wrapper or a
// fake in a test. A Sink calls it from every goroutine that uses the Sink,
// and from several at once within a Write, so it must be safe for
// concurrent use, as the SDK's client is.
type Client interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Sink writes snapshots and shard progress to a counts table and reads them
// back merged. It implements sink.ProgressWriter, sink.Reader and
// sink.Lister.
//
// Use New; the zero value is not usable. A Sink is safe for concurrent use:
// it holds only its configuration. Writing n snapshots costs n UpdateItem
// requests, 8 in flight at a time; WriteProgress a GetItem and an
// UpdateItem; Query a GetItem and one strongly consistent Query request per
// megabyte returned, then sink.Merge; Groups scans the whole table.
type Sink struct {
	client  Client
	table   *string
	ttl     time.Duration
	now     func() time.Time
	backoff backoff.Policy
	log     *slog.Logger // nil: no logging
	warns   *ratelog.Limiter
	hooks   []hook.Hook
	writes  []hook.Writes // the hook.Writes among hooks
}

var (
	_ sink.ProgressWriter = (*Sink)(nil)
	_ sink.Reader         = (*Sink)(nil)
	_ sink.Lister         = (*Sink)(nil)
)

// Option configures a Sink in New. WithTTL, WithClock, WithBackoff,
// WithLogger and WithHooks make one. An Option is a plain value, safe to share and reuse; it checks its
// argument when New applies it, and a bad one (or a nil Option) makes New
// return an error wrapping ErrInvalidOption that names the option and value.
type Option interface {
	apply(*Sink) error
}

type optionFunc func(*Sink) error

func (f optionFunc) apply(s *Sink) error { return f(s) }

// WithTTL sets how long after its Time a snapshot expires (default
// DefaultTTL). It must be positive.
func WithTTL(d time.Duration) Option {
	return optionFunc(func(s *Sink) error {
		return option.Positive(&s.ttl, ErrInvalidOption, "WithTTL", d)
	})
}

// WithClock sets the clock that reads compare expiry times with (default
// time.Now); now must be safe for concurrent use. Writes do not use it:
// expiry is the snapshot's Time plus the TTL. A reader of old data (a
// replay, a backfill) passes a clock set to the data's time, so snapshots
// that were live then are returned.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(s *Sink) error { return option.Clock(&s.now, ErrInvalidOption, now) })
}

// WithBackoff sets the wait before retrying a throttled request, or a
// progress write that raced another: before retry n, a random time
// between half and all of min(max, base·2ⁿ). The defaults are
// DefaultBackoffBase and DefaultBackoffMax; base must be positive and max at
// least base.
func WithBackoff(base, max time.Duration) Option {
	return optionFunc(func(s *Sink) (err error) {
		s.backoff, err = backoff.New(base, max, ErrInvalidOption)
		return err
	})
}

// WithLogger sets where the Sink logs the requests it retries because
// DynamoDB throttled them, as warnings naming the table, at most one per
// operation (write, progress, read) every 10 s (ratelog.DefaultEvery), with
// the count of those held back. Snapshots' contents are never logged. A nil
// logger turns logging off, the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(s *Sink) error {
		s.log = l
		return nil
	})
}

// WithHooks adds hooks that the Sink reports to: each Write goes to the
// hook.Writes among them as a hook.Write, and each DynamoDB call it makes,
// retries included, to the hook.Calls as a hook.Call of Adapter
// "dynamosink". Hooks implementing neither are ignored; with none, the Sink
// reads no clock for them.
func WithHooks(hs ...hook.Hook) Option {
	return optionFunc(func(s *Sink) error {
		s.hooks = append(s.hooks, hs...)
		return nil
	})
}

// throttled is the retry predicate of every call the Sink makes: it
// accepts transient failures (awserr.Transient: throttling, a server fault,
// a timeout), and logs them as op's.
func (s *Sink) throttled(op string) func(error) bool {
	return func(err error) bool {
		if !awserr.Transient(context.Background(), err) {
			return false
		}
		if s.log != nil {
			s.warns.Log(s.log, slog.LevelWarn, op, time.Now(), "a counts table call failed transiently; retrying",
				"table", *s.table, "op", op, "err", err)
		}
		return true
	}
}

// New returns a Sink on table through client (usually a *dynamodb.Client).
// The table must exist; CreateTable makes it.
func New(client Client, table string, opts ...Option) (*Sink, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if err := ddb.ValidTableName(table, ErrInvalidOption); err != nil {
		return nil, err
	}
	s := &Sink{table: aws.String(table), ttl: DefaultTTL, now: time.Now,
		backoff: backoff.Policy{Base: DefaultBackoffBase, Max: DefaultBackoffMax}, warns: &ratelog.Limiter{}}
	if err := option.Apply(s, ErrInvalidOption, opts, Option.apply); err != nil {
		return nil, err
	}
	// The Sink's own policy retries every call; the SDK's would multiply
	// the attempts.
	s.client = ddb.Once{C: client, Obs: callhook.New("dynamosink", s.hooks)}
	s.writes = hook.Find[hook.Writes](s.hooks)
	return s, nil
}

// Write stores snapshots: each replaces the stored snapshot with the same
// Group, Time (to the millisecond) and Shard, and leaves the others of its
// item alone; within one call a later snapshot replaces an earlier one. It
// returns once every snapshot is written: requests DynamoDB throttles are
// retried with backoff until they succeed or ctx ends. A batch with an
// invalid snapshot stores nothing. If another error stops a Write, some of
// the batch may be stored; writing it again is safe.
func (s *Sink) Write(ctx context.Context, snapshots []sink.Snapshot) error {
	if len(s.writes) == 0 {
		return s.write(ctx, snapshots)
	}
	start := time.Now()
	err := s.write(ctx, snapshots)
	w := hook.Write{Snapshots: len(snapshots), Duration: time.Since(start), Err: err}
	for _, h := range s.writes {
		h.OnWrite(w)
	}
	return err
}

// write is Write without the hooks.
func (s *Sink) write(ctx context.Context, snapshots []sink.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, snap := range snapshots {
		if err := validate(snap); err != nil {
			return fmt.Errorf("sink/dynamosink: snapshot %d: %w", i, err)
		}
	}
	// Two updates of one snapshot in flight together could land in either
	// order; the later one in the batch is the one to keep.
	type key struct{ group, time, shard string }
	last := make(map[key]int, len(snapshots))
	for i, snap := range snapshots {
		last[key{snap.Group, timeKey(snap.Time), snap.Shard}] = i
	}
	updates := make([]sink.Snapshot, 0, len(last))
	for i, snap := range snapshots {
		if last[key{snap.Group, timeKey(snap.Time), snap.Shard}] == i {
			updates = append(updates, snap)
		}
	}
	return s.writeAll(ctx, updates)
}

// writeAll writes snaps with up to writesInFlight requests at a time. The
// first error that is not the end of ctx stops the others and is returned.
func (s *Sink) writeAll(ctx context.Context, snaps []sink.Snapshot) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, written atomic.Int64
		failOnce      sync.Once
		failed        error
		wg            sync.WaitGroup
	)
	for range min(writesInFlight, len(snaps)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(snaps) || ctx.Err() != nil {
					return
				}
				if err := s.writeOne(ctx, snaps[i]); err != nil {
					// Past the end of ctx, the error only says so.
					if ctx.Err() == nil {
						failOnce.Do(func() { failed = err })
						cancel()
					}
					return
				}
				written.Add(1)
			}
		})
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	if n := len(snaps) - int(written.Load()); n > 0 {
		return fmt.Errorf("sink/dynamosink: %d snapshots not yet written: %w", n, context.Cause(ctx))
	}
	return nil
}

// writeOne writes one snapshot, retrying while DynamoDB throttles.
func (s *Sink) writeOne(ctx context.Context, snap sink.Snapshot) error {
	in, err := s.updateInput(snap)
	if err == nil {
		_, _, err = backoff.Retry(ctx, s.backoff, 0, s.throttled("write"), func(ctx context.Context) (*dynamodb.UpdateItemOutput, error) {
			return s.client.UpdateItem(ctx, in)
		})
	}
	if err == nil || ctx.Err() != nil {
		return err
	}
	what := "snapshot"
	if snap.Shard != "" {
		what = fmt.Sprintf("partial of shard %q", snap.Shard)
	}
	return fmt.Errorf("sink/dynamosink: table %s: write %s of %q at %s: %w", *s.table, what, snap.Group, timeKey(snap.Time), err)
}

// updateInput is the UpdateItem that writes snap: SET what snapshotAttrs
// sets, REMOVE what it removes, every name through a placeholder so that
// any shard ID, and any name DynamoDB reserves, is safe.
func (s *Sink) updateInput(snap sink.Snapshot) (*dynamodb.UpdateItemInput, error) {
	set, remove, err := s.snapshotAttrs(snap)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(set)+len(remove))
	values := make(map[string]types.AttributeValue, len(set))
	var expr strings.Builder
	for i, name := range slices.Sorted(maps.Keys(set)) {
		sep := ", "
		if i == 0 {
			sep = "SET "
		}
		fmt.Fprintf(&expr, "%s#a%d = :a%d", sep, i, i)
		names[fmt.Sprintf("#a%d", i)] = name
		values[fmt.Sprintf(":a%d", i)] = set[name]
	}
	for i, name := range remove {
		sep := ", "
		if i == 0 {
			sep = " REMOVE "
		}
		fmt.Fprintf(&expr, "%s#r%d", sep, i)
		names[fmt.Sprintf("#r%d", i)] = name
	}
	return &dynamodb.UpdateItemInput{
		TableName: s.table,
		Key: map[string]types.AttributeValue{
			attrResource:  &types.AttributeValueMemberS{Value: snap.Group},
			attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(snap.Time)},
		},
		UpdateExpression:          aws.String(expr.String()),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, nil
}
