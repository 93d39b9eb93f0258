// Package dynamosink is a sink.Writer and sink.Reader on a DynamoDB counts
// table shaped like the original web-traffic sample's, so the visualizer's
// results outlive its process and can be read from anywhere.
//
// One item per snapshot:
//
//	resource        S   hash key: Snapshot.Group
//	timestamp       S   range key: Snapshot.Time, ISO-8601 UTC with milliseconds
//	                    (2006-01-02T15:04:05.000Z), so the range key sorts by time
//	host            S   Snapshot.Host (absent when empty)
//	windowMs        N   Snapshot.Window in milliseconds
//	referrerCounts  L   Snapshot.Counts in order, each a map {referrer S, count N},
//	                    with err N when the count is approximate (Entry.Err > 0)
//	expiresAt       N   epoch seconds after which DynamoDB's TTL may delete the item
//
// Times are kept to the millisecond: snapshots of one group less than a
// millisecond apart are one snapshot. Expiry is judged on data time (the
// snapshot's Time plus the TTL), and reads skip expired items themselves,
// since DynamoDB deletes them only eventually and local emulators never.
package dynamosink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/internal/option"
	"github.com/streamtop/streamtop/internal/ratelog"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// ErrInvalidOption reports a bad argument to New or CreateTable. It wraps
// sink.ErrInvalidOption, so either can be tested for.
var ErrInvalidOption = fmt.Errorf("sink/dynamosink: %w", sink.ErrInvalidOption)

// Attribute names, the original sample's where it had them.
const (
	attrResource  = "resource"
	attrTimestamp = "timestamp"
	attrHost      = "host"
	attrWindow    = "windowMs"
	attrCounts    = "referrerCounts"
	attrReferrer  = "referrer"
	attrCount     = "count"
	attrErr       = "err"
	attrExpiresAt = "expiresAt"
)

// timeLayout sorts as text in time order for years 1 to 9999.
const timeLayout = "2006-01-02T15:04:05.000Z"

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

// batchSize is BatchWriteItem's limit on items per request.
const batchSize = 25

// Client is the part of *dynamodb.Client that a Sink calls: BatchWriteItem,
// Query and Scan. A *dynamodb.Client has it; so can a wrapper or a fake in a
// test. A Sink calls it from every goroutine that uses the Sink, so it must
// be safe for concurrent use, as the SDK's client is.
type Client interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Sink writes snapshots to a counts table and reads them back. It implements
// sink.Writer, sink.Reader and sink.Lister.
//
// Use New; the zero value is not usable. A Sink is safe for concurrent use:
// it holds only its configuration. Writing n snapshots costs ⌈n/25⌉
// BatchWriteItem requests, more when DynamoDB leaves items unprocessed;
// Query costs one strongly consistent Query request per megabyte returned;
// Groups scans the whole table.
type Sink struct {
	client  Client
	table   *string
	ttl     time.Duration
	now     func() time.Time
	backoff backoff.Policy
	log     *slog.Logger // nil: no logging
	warns   *ratelog.Limiter
}

var (
	_ sink.Writer = (*Sink)(nil)
	_ sink.Reader = (*Sink)(nil)
	_ sink.Lister = (*Sink)(nil)
)

// Option configures a Sink in New. WithTTL, WithClock, WithBackoff and
// WithLogger make one. An Option is a plain value, safe to share and reuse; it checks its
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

// WithBackoff sets the wait before retrying items DynamoDB left unprocessed
// or a throttled request: after n rounds without progress, a random time
// between half and all of min(max, base·2ⁿ). The defaults are
// DefaultBackoffBase and DefaultBackoffMax; base must be positive and max at
// least base.
func WithBackoff(base, max time.Duration) Option {
	return optionFunc(func(s *Sink) (err error) {
		s.backoff, err = backoff.New(base, max, ErrInvalidOption)
		return err
	})
}

// WithLogger sets where the Sink logs the requests it retries — throttled
// ones, and items DynamoDB left unprocessed — as warnings naming the table,
// at most one per operation (write, query, scan) every 10 s
// (ratelog.DefaultEvery), with the count of those held back. Snapshots'
// contents are never logged. A nil logger turns logging off, the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(s *Sink) error {
		s.log = l
		return nil
	})
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
	s := &Sink{client: client, table: aws.String(table), ttl: DefaultTTL, now: time.Now,
		backoff: backoff.Policy{Base: DefaultBackoffBase, Max: DefaultBackoffMax}, warns: &ratelog.Limiter{}}
	if err := option.Apply(s, ErrInvalidOption, opts, Option.apply); err != nil {
		return nil, err
	}
	return s, nil
}

// Write stores snapshots, replacing any with the same Group and Time (to the
// millisecond); within one call a later snapshot replaces an earlier one. It
// returns once every item is written: items DynamoDB leaves unprocessed, and
// requests it throttles, are retried with backoff until they succeed or ctx
// ends. A batch with an invalid snapshot stores nothing. If another error
// stops a Write, the chunks of 25 before it are stored.
func (s *Sink) Write(ctx context.Context, snapshots []sink.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, snap := range snapshots {
		if err := validate(snap); err != nil {
			return fmt.Errorf("sink/dynamosink: snapshot %d: %w", i, err)
		}
	}
	// BatchWriteItem refuses two items with one key in a request; the later
	// snapshot is the one to keep anyway.
	last := make(map[[2]string]int, len(snapshots))
	for i, snap := range snapshots {
		last[[2]string{snap.Group, timeKey(snap.Time)}] = i
	}
	requests := make([]types.WriteRequest, 0, len(last))
	for i, snap := range snapshots {
		if last[[2]string{snap.Group, timeKey(snap.Time)}] != i {
			continue
		}
		requests = append(requests, types.WriteRequest{PutRequest: &types.PutRequest{Item: s.encode(snap)}})
	}
	for chunk := range slices.Chunk(requests, batchSize) {
		if err := s.writeChunk(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

// writeChunk writes up to 25 items, retrying what DynamoDB leaves
// unprocessed. The wait grows only while nothing gets through, so a table
// that accepts part of each request is not slowed further.
func (s *Sink) writeChunk(ctx context.Context, chunk []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{*s.table: chunk}
	for stalled := 0; ; {
		out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		before := len(pending[*s.table])
		switch {
		case err == nil:
			if len(out.UnprocessedItems[*s.table]) == 0 {
				return nil
			}
			pending = out.UnprocessedItems
			s.warn("write", "DynamoDB left items unprocessed; retrying them", "items", len(pending[*s.table]), "of", before)
		case ddb.IsThrottle(err):
			s.warn("write", "DynamoDB throttled a write; retrying", "items", before, "err", err)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return err
		default:
			return fmt.Errorf("sink/dynamosink: table %s: write %d snapshots: %w", *s.table, before, err)
		}
		if len(pending[*s.table]) < before {
			stalled = 0
		} else {
			stalled++
		}
		if err := backoff.Sleep(ctx, s.backoff.Delay(stalled)); err != nil {
			return fmt.Errorf("sink/dynamosink: table %s: %d snapshots not yet written: %w", *s.table, len(pending[*s.table]), err)
		}
	}
}

// maxGroupBytes is DynamoDB's limit on a hash key.
const maxGroupBytes = 2048

func validate(s sink.Snapshot) error {
	switch {
	case s.Group == "":
		return fmt.Errorf("%w: empty group", sink.ErrInvalidSnapshot)
	case len(s.Group) > maxGroupBytes:
		return fmt.Errorf("%w: group of %d bytes, more than DynamoDB's %d", sink.ErrInvalidSnapshot, len(s.Group), maxGroupBytes)
	case s.Time.IsZero():
		return fmt.Errorf("%w: group %q: zero time", sink.ErrInvalidSnapshot, s.Group)
	case s.Time.UTC().Year() < 1 || s.Time.UTC().Year() > 9999:
		return fmt.Errorf("%w: group %q: time %v outside years 1 to 9999", sink.ErrInvalidSnapshot, s.Group, s.Time)
	}
	return nil
}

// timeKey is the range key for t: UTC, truncated to the millisecond.
func timeKey(t time.Time) string { return t.UTC().Format(timeLayout) }

func (s *Sink) encode(snap sink.Snapshot) map[string]types.AttributeValue {
	counts := make([]types.AttributeValue, len(snap.Counts))
	for i, e := range snap.Counts {
		m := map[string]types.AttributeValue{
			attrReferrer: &types.AttributeValueMemberS{Value: e.Key},
			attrCount:    ddb.Num(e.Count),
		}
		if e.Err != 0 {
			m[attrErr] = ddb.Num(e.Err)
		}
		counts[i] = &types.AttributeValueMemberM{Value: m}
	}
	item := map[string]types.AttributeValue{
		attrResource:  &types.AttributeValueMemberS{Value: snap.Group},
		attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(snap.Time)},
		attrWindow:    ddb.Num(snap.Window.Milliseconds()),
		attrCounts:    &types.AttributeValueMemberL{Value: counts},
		attrExpiresAt: ddb.Num(snap.Time.Add(s.ttl).Unix()),
	}
	if snap.Host != "" {
		item[attrHost] = &types.AttributeValueMemberS{Value: snap.Host}
	}
	return item
}

// Query returns the group's snapshots with Time at or after since, in time
// order, leaving out those whose expiry has passed by the Sink's clock. The
// result is an empty, non-nil slice for a group with none.
func (s *Sink) Query(ctx context.Context, group string, since time.Time) ([]sink.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []sink.Snapshot{}
	if group == "" {
		return out, nil
	}
	names := map[string]string{"#r": attrResource}
	values := map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: group}}
	cond := "#r = :r"
	switch since = since.UTC(); {
	case since.Year() > 9999:
		return out, nil
	case since.Year() >= 1:
		// Stored times are whole milliseconds, so "at or after since" is
		// "at or after since rounded up to the millisecond".
		if r := since.Truncate(time.Millisecond); r.Before(since) {
			since = r.Add(time.Millisecond)
		}
		names["#t"] = attrTimestamp
		values[":t"] = &types.AttributeValueMemberS{Value: since.Format(timeLayout)}
		cond += " AND #t >= :t"
	}
	now := s.now()
	var start map[string]types.AttributeValue
	for {
		page, err := retryRead(ctx, s, "query", func() (*dynamodb.QueryOutput, error) {
			return s.client.Query(ctx, &dynamodb.QueryInput{
				TableName:                 s.table,
				KeyConditionExpression:    aws.String(cond),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
				ConsistentRead:            aws.Bool(true),
				ExclusiveStartKey:         start,
			})
		})
		if err != nil {
			return nil, s.wrapRead("query", group, err)
		}
		for _, item := range page.Items {
			snap, expires, err := decode(item)
			if err != nil {
				return nil, err
			}
			if live(expires, now) {
				out = append(out, snap)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}

// Groups returns the groups with at least one unexpired snapshot, in
// ascending order. It scans the whole table: fine for a picker on a table
// of hours of data, not for a hot path.
func (s *Sink) Groups(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	seen := make(map[string]bool)
	var start map[string]types.AttributeValue
	for {
		page, err := retryRead(ctx, s, "scan", func() (*dynamodb.ScanOutput, error) {
			return s.client.Scan(ctx, &dynamodb.ScanInput{
				TableName:                s.table,
				ProjectionExpression:     aws.String("#r, #e"),
				ExpressionAttributeNames: map[string]string{"#r": attrResource, "#e": attrExpiresAt},
				ConsistentRead:           aws.Bool(true),
				ExclusiveStartKey:        start,
			})
		})
		if err != nil {
			return nil, s.wrapRead("scan", "", err)
		}
		for _, item := range page.Items {
			g, ok := item[attrResource].(*types.AttributeValueMemberS)
			if !ok {
				return nil, fmt.Errorf("sink/dynamosink: item without a string %s", attrResource)
			}
			expires, err := ddb.GetN(item, attrExpiresAt)
			if err != nil {
				return nil, fmt.Errorf("sink/dynamosink: group %q: %w", g.Value, err)
			}
			if _, ok := item[attrExpiresAt]; !ok || live(time.Unix(expires, 0), now) {
				seen[g.Value] = true
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		start = page.LastEvaluatedKey
	}
	groups := make([]string, 0, len(seen))
	for g := range seen {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	return groups, nil
}

// readAttempts bounds the tries of one read page while DynamoDB throttles:
// a reader (a chart refreshing) is better served by an error it can show than
// by a wait without end, unlike a Write, which must not lose snapshots.
const readAttempts = 6

// retryRead calls read, which is idempotent, until it succeeds, fails with an
// error that is not throttling, or has been throttled readAttempts times.
func retryRead[T any](ctx context.Context, s *Sink, op string, read func() (T, error)) (T, error) {
	throttled := func(err error) bool {
		if !ddb.IsThrottle(err) {
			return false
		}
		s.warn(op, "DynamoDB throttled a read; retrying", "err", err)
		return true
	}
	v, _, err := backoff.Retry(ctx, s.backoff, readAttempts, throttled, func(context.Context) (T, error) { return read() })
	return v, err
}

// warn logs a retry of op, rate-limited per op.
func (s *Sink) warn(op, msg string, args ...any) {
	if s.log == nil {
		return
	}
	s.warns.Log(s.log, slog.LevelWarn, op, time.Now(), msg, append([]any{"table", *s.table, "op", op}, args...)...)
}

func (s *Sink) wrapRead(op, group string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if group == "" {
		return fmt.Errorf("sink/dynamosink: table %s: %s: %w", *s.table, op, err)
	}
	return fmt.Errorf("sink/dynamosink: table %s: %s %q: %w", *s.table, op, group, err)
}

// decode reads one counts-table item and its expiry time, zero for an item
// written without one (by another tool), which never expires.
func decode(item map[string]types.AttributeValue) (sink.Snapshot, time.Time, error) {
	var snap sink.Snapshot
	g, ok := item[attrResource].(*types.AttributeValueMemberS)
	if !ok {
		return snap, time.Time{}, fmt.Errorf("sink/dynamosink: item without a string %s", attrResource)
	}
	snap.Group = g.Value
	fail := func(err error) (sink.Snapshot, time.Time, error) {
		return sink.Snapshot{}, time.Time{}, fmt.Errorf("sink/dynamosink: group %q: %w", snap.Group, err)
	}
	ts, ok := item[attrTimestamp].(*types.AttributeValueMemberS)
	if !ok {
		return fail(fmt.Errorf("no string %s", attrTimestamp))
	}
	t, err := time.Parse(timeLayout, ts.Value)
	if err != nil {
		return fail(err)
	}
	snap.Time = t
	switch h := item[attrHost].(type) {
	case nil:
	case *types.AttributeValueMemberS:
		snap.Host = h.Value
	default:
		return fail(fmt.Errorf("%s has type %T, want a string", attrHost, h))
	}
	window, err := ddb.GetN(item, attrWindow)
	if err != nil {
		return fail(err)
	}
	// A window past what a Duration holds would wrap around to a
	// nonsense (even negative) length.
	if window < 0 || window > math.MaxInt64/int64(time.Millisecond) {
		return fail(fmt.Errorf("%s %d out of range", attrWindow, window))
	}
	snap.Window = time.Duration(window) * time.Millisecond
	expires, err := ddb.GetN(item, attrExpiresAt)
	if err != nil {
		return fail(err)
	}
	switch l := item[attrCounts].(type) {
	case nil:
	case *types.AttributeValueMemberL:
		snap.Counts = make([]topk.Entry[string], len(l.Value))
		for i, v := range l.Value {
			m, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				return fail(fmt.Errorf("%s[%d] has type %T, want a map", attrCounts, i, v))
			}
			ref, ok := m.Value[attrReferrer].(*types.AttributeValueMemberS)
			if !ok {
				return fail(fmt.Errorf("%s[%d] has no string %s", attrCounts, i, attrReferrer))
			}
			e := &snap.Counts[i]
			e.Key = ref.Value
			if e.Count, err = ddb.GetN(m.Value, attrCount); err != nil {
				return fail(fmt.Errorf("%s[%d]: %w", attrCounts, i, err))
			}
			if e.Err, err = ddb.GetN(m.Value, attrErr); err != nil {
				return fail(fmt.Errorf("%s[%d]: %w", attrCounts, i, err))
			}
		}
	default:
		return fail(fmt.Errorf("%s has type %T, want a list", attrCounts, l))
	}
	// What the Sink would refuse to write (an empty group, year 0) is not a
	// snapshot to hand to a reader either.
	if err := validate(snap); err != nil {
		return fail(err)
	}
	if _, ok := item[attrExpiresAt]; !ok {
		return snap, time.Time{}, nil
	}
	return snap, time.Unix(expires, 0), nil
}

// live reports whether an item that expires at expires (zero: never) is
// still to be read at now.
func live(expires, now time.Time) bool { return expires.IsZero() || now.Before(expires) }
