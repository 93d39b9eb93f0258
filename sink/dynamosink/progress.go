package dynamosink

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/sink"
)

// The progress item: one per table, keyed by a group no snapshot may have.
const (
	progressGroup = "streamtop#progress"
	progressKey   = "progress" // its timestamp

	// progressPrefix starts the name of a shard's progress attribute,
	// followed by its shard ID; the attribute is a map of these.
	progressPrefix = "s#"
	attrParents    = "parents"
	attrHashStart  = "hashKeyStart"
	attrHashEnd    = "hashKeyEnd"
	attrBucket     = "bucketMs"
	attrFrom       = "from"
	attrThrough    = "through"
	attrEnded      = "ended"
	attrProgHost   = "host"
	attrVersion    = "version"
)

func progressItemKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrResource:  &types.AttributeValueMemberS{Value: progressGroup},
		attrTimestamp: &types.AttributeValueMemberS{Value: progressKey},
	}
}

// WriteProgress records p for p.Shard as sink.ProgressWriter says: Through
// never moves back, Ended stays set, the rest is p's. It is a
// read-modify-write of the shard's attribute of the progress item: a
// strongly consistent GetItem, sink.Advance, and an UpdateItem on condition
// that the attribute's version is still the one read, tried again from the
// read when another writer of the same shard got in between. So the rules
// are sink.Advance's alone, not restated as a condition expression, at the
// cost of two requests per call (one writer per shard is the usual case, so
// a retry is rare). Throttled requests are retried with backoff until ctx
// ends. Times are kept to the millisecond.
func (s *Sink) WriteProgress(ctx context.Context, p sink.Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateProgress(p); err != nil {
		return err
	}
	p.Parents = slices.Clone(p.Parents)
	p.From, p.Through = p.From.UTC().Truncate(time.Millisecond), p.Through.UTC().Truncate(time.Millisecond)
	p.Bucket = p.Bucket.Truncate(time.Millisecond)
	name := progressPrefix + p.Shard
	for race := 0; ; race++ {
		old, err := s.readShardProgress(ctx, p.Shard)
		if err != nil {
			return err
		}
		err = s.putShardProgress(ctx, name, sink.Advance(old.p, p), old)
		var failed *types.ConditionalCheckFailedException
		if err == nil && p.Ended {
			// A shard's end is rare: the moment to forget the shards
			// that ended longer ago than the TTL keeps their windows.
			s.pruneProgress(ctx, p.Through)
		}
		if !errors.As(err, &failed) {
			return err
		}
		if err := backoff.Sleep(ctx, s.backoff.Delay(race)); err != nil {
			return fmt.Errorf("sink/dynamosink: progress of shard %q not yet written: %w", p.Shard, err)
		}
	}
}

func validateProgress(p sink.Progress) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: progress of shard %q: %s", sink.ErrInvalidSnapshot, p.Shard, fmt.Sprintf(format, args...))
	}
	if p.Shard == "" {
		return fmt.Errorf("%w: progress without a shard", sink.ErrInvalidSnapshot)
	}
	if err := validShard(p.Shard); err != nil {
		return bad("%v", err)
	}
	if p.Bucket < 0 {
		return bad("negative bucket %v", p.Bucket)
	}
	for _, t := range []time.Time{p.From, p.Through} {
		if y := t.UTC().Year(); !t.IsZero() && (y < 1 || y > 9999) {
			return bad("time %v outside years 1 to 9999", t)
		}
	}
	return nil
}

// storedProgress is a shard's progress attribute as read: its progress,
// and its version, which every write increments. version is -1 if the
// attribute has none (another tool wrote it), and exists false if there
// is no attribute.
type storedProgress struct {
	p       sink.Progress
	version int64
	exists  bool
}

// readShardProgress reads one shard's stored progress.
func (s *Sink) readShardProgress(ctx context.Context, shard string) (storedProgress, error) {
	name := progressPrefix + shard
	out, err := retryRead(ctx, s, func() (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                s.table,
			Key:                      progressItemKey(),
			ProjectionExpression:     aws.String("#s"),
			ExpressionAttributeNames: map[string]string{"#s": name},
			ConsistentRead:           aws.Bool(true),
		})
	})
	if err != nil {
		return storedProgress{}, wrapRead("read progress of shard", shard, err)
	}
	v, ok := out.Item[name]
	if !ok {
		return storedProgress{version: -1}, nil
	}
	p, version, err := decodeShardProgress(shard, v)
	if err != nil {
		return storedProgress{}, progressError(name, err)
	}
	return storedProgress{p: p, version: version, exists: true}, nil
}

// putShardProgress writes p, with the next version, if the shard's stored
// attribute is still old.
func (s *Sink) putShardProgress(ctx context.Context, name string, p sink.Progress, old storedProgress) error {
	in := &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       progressItemKey(),
		UpdateExpression:          aws.String("SET #s = :p"),
		ExpressionAttributeNames:  map[string]string{"#s": name},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": encodeProgress(p, max(old.version, 0)+1)},
	}
	switch {
	case !old.exists:
		in.ConditionExpression = aws.String("attribute_not_exists(#s)")
	case old.version < 0:
		in.ConditionExpression = aws.String("attribute_exists(#s) AND attribute_not_exists(#s.#v)")
		in.ExpressionAttributeNames["#v"] = attrVersion
	default:
		in.ConditionExpression = aws.String("#s.#v = :v")
		in.ExpressionAttributeNames["#v"] = attrVersion
		in.ExpressionAttributeValues[":v"] = ddb.Num(old.version)
	}
	_, _, err := backoff.Retry(ctx, s.backoff, 0, s.throttled("progress"), func(ctx context.Context) (*dynamodb.UpdateItemOutput, error) {
		return s.client.UpdateItem(ctx, in)
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case err == nil, errors.As(err, &failed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("sink/dynamosink: write progress of shard %q: %w", strings.TrimPrefix(name, progressPrefix), err)
}

// readProgress reads every shard's progress.
func (s *Sink) readProgress(ctx context.Context) ([]sink.Progress, error) {
	out, err := retryRead(ctx, s, func() (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: progressItemKey(), ConsistentRead: aws.Bool(true)})
	})
	if err != nil {
		return nil, wrapRead("read progress", "", err)
	}
	return decodeProgressItem(out.Item)
}

// decodeProgressItem reads the progress item's shard attributes, ignoring
// any other.
func decodeProgressItem(item map[string]types.AttributeValue) ([]sink.Progress, error) {
	var out []sink.Progress
	for name, v := range item {
		shard, ok := strings.CutPrefix(name, progressPrefix)
		if !ok {
			continue
		}
		p, _, err := decodeShardProgress(shard, v)
		if err != nil {
			return nil, progressError(name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func progressError(attr string, err error) error {
	return fmt.Errorf("sink/dynamosink: item (%q, %q): %q: %w", progressGroup, progressKey, attr, err)
}

func encodeProgress(p sink.Progress, version int64) types.AttributeValue {
	parents := make([]types.AttributeValue, len(p.Parents))
	for i, id := range p.Parents {
		parents[i] = &types.AttributeValueMemberS{Value: id}
	}
	m := map[string]types.AttributeValue{
		attrParents: &types.AttributeValueMemberL{Value: parents},
		attrBucket:  ddb.Num(p.Bucket.Milliseconds()),
		attrEnded:   &types.AttributeValueMemberBOOL{Value: p.Ended},
		attrVersion: ddb.Num(version),
	}
	for name, v := range map[string]string{attrHashStart: p.HashKeyStart, attrHashEnd: p.HashKeyEnd, attrProgHost: p.Host} {
		if v != "" {
			m[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	if !p.From.IsZero() {
		m[attrFrom] = &types.AttributeValueMemberS{Value: timeKey(p.From)}
	}
	if !p.Through.IsZero() {
		m[attrThrough] = &types.AttributeValueMemberS{Value: timeKey(p.Through)}
	}
	return &types.AttributeValueMemberM{Value: m}
}

// decodeShardProgress reads one shard's progress attribute and its version,
// -1 if it has none.
func decodeShardProgress(shard string, v types.AttributeValue) (sink.Progress, int64, error) {
	p := sink.Progress{Shard: shard}
	if shard == "" {
		return p, 0, errors.New("progress without a shard ID")
	}
	if err := validShard(shard); err != nil {
		return p, 0, err
	}
	mv, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		return p, 0, fmt.Errorf("has type %T, want a map", v)
	}
	m := mv.Value
	switch l := m[attrParents].(type) {
	case nil:
	case *types.AttributeValueMemberL:
		for i, v := range l.Value {
			id, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				return p, 0, fmt.Errorf("%s[%d] has type %T, want a string", attrParents, i, v)
			}
			p.Parents = append(p.Parents, id.Value)
		}
	default:
		return p, 0, fmt.Errorf("%s has type %T, want a list", attrParents, l)
	}
	for name, dst := range map[string]*string{attrHashStart: &p.HashKeyStart, attrHashEnd: &p.HashKeyEnd, attrProgHost: &p.Host} {
		switch s := m[name].(type) {
		case nil:
		case *types.AttributeValueMemberS:
			*dst = s.Value
		default:
			return p, 0, fmt.Errorf("%s has type %T, want a string", name, s)
		}
	}
	bucket, err := ddb.GetN(m, attrBucket)
	if err != nil {
		return p, 0, err
	}
	if bucket < 0 || bucket > math.MaxInt64/int64(time.Millisecond) {
		return p, 0, fmt.Errorf("%s %d out of range", attrBucket, bucket)
	}
	p.Bucket = time.Duration(bucket) * time.Millisecond
	for name, dst := range map[string]*time.Time{attrFrom: &p.From, attrThrough: &p.Through} {
		switch s := m[name].(type) {
		case nil:
		case *types.AttributeValueMemberS:
			t, err := time.Parse(timeLayout, s.Value)
			if err != nil {
				return p, 0, fmt.Errorf("%s: %w", name, err)
			}
			*dst = t
		default:
			return p, 0, fmt.Errorf("%s has type %T, want a string", name, s)
		}
	}
	switch b := m[attrEnded].(type) {
	case nil:
	case *types.AttributeValueMemberBOOL:
		p.Ended = b.Value
	default:
		return p, 0, fmt.Errorf("%s has type %T, want a boolean", attrEnded, b)
	}
	// What WriteProgress would refuse (a time in year 0) is not progress
	// to judge windows by either.
	if err := validateProgress(p); err != nil {
		return p, 0, err
	}
	if _, ok := m[attrVersion]; !ok {
		return p, -1, nil
	}
	version, err := ddb.GetN(m, attrVersion)
	if err != nil {
		return p, 0, err
	}
	if version < 0 || version == math.MaxInt64 {
		return p, 0, fmt.Errorf("%s %d out of range", attrVersion, version)
	}
	return p, version, nil
}

// pruneProgress removes the progress of the shards that ended before now
// minus the TTL (by data time, now being a shard's new end): every window
// they hold partials of has expired, and their children, which cover the
// same hash keys, judge the later ones. Without it the progress item would
// grow by a shard at every reshard, up to DynamoDB's 400 KB. Each removal is
// conditional on the attribute's version, so a concurrent writer's change
// stands; a failure leaves the attribute to the next shard's end.
func (s *Sink) pruneProgress(ctx context.Context, now time.Time) {
	out, err := retryRead(ctx, s, func() (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: progressItemKey(), ConsistentRead: aws.Bool(true)})
	})
	if err != nil {
		return
	}
	cutoff := now.Add(-s.ttl)
	for name, v := range out.Item {
		shard, ok := strings.CutPrefix(name, progressPrefix)
		if !ok {
			continue
		}
		p, version, err := decodeShardProgress(shard, v)
		if err != nil || !p.Ended || !p.Through.Before(cutoff) || version < 0 {
			continue
		}
		_, _ = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 s.table,
			Key:                       progressItemKey(),
			UpdateExpression:          aws.String("REMOVE #s"),
			ConditionExpression:       aws.String("#s.#v = :v"),
			ExpressionAttributeNames:  map[string]string{"#s": name, "#v": attrVersion},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": ddb.Num(version)},
		})
	}
}
