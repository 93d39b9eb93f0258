package dynamosink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/sink"
)

// Query returns the group's snapshots with Time at or after since, in time
// order, merged and judged complete as sink.Merge does, leaving out items
// whose expiry has passed by the Sink's clock. The result is an empty,
// non-nil slice for a group with none.
//
// It reads the progress item first, then the group's items, each strongly
// consistent: a processor writes its partials before the progress that
// covers them, so every partial that progress counts as written is found.
// Read the other way round, a window could be judged complete without a
// partial written between the two reads.
func (s *Sink) Query(ctx context.Context, group string, since time.Time) ([]sink.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if group == "" || group == progressGroup {
		return []sink.Snapshot{}, nil
	}
	progress, err := s.readProgress(ctx)
	if err != nil {
		return nil, err
	}
	snaps, err := s.queryItems(ctx, group, since)
	if err != nil {
		return nil, err
	}
	return sink.Merge(snaps, progress), nil
}

// queryItems returns the snapshots of the group's live items from since on,
// unmerged.
func (s *Sink) queryItems(ctx context.Context, group string, since time.Time) ([]sink.Snapshot, error) {
	names := map[string]string{"#r": attrResource}
	values := map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: group}}
	cond := "#r = :r"
	switch since = since.UTC(); {
	case since.Year() > 9999:
		return nil, nil
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
	var out []sink.Snapshot
	var start map[string]types.AttributeValue
	for {
		page, err := retryRead(ctx, s, func() (*dynamodb.QueryOutput, error) {
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
			return nil, wrapRead("query", group, err)
		}
		for _, item := range page.Items {
			n := len(out)
			var expires time.Time
			if out, expires, err = decodeItem(out, item); err != nil {
				return nil, err
			}
			if !live(expires, now) {
				out = out[:n]
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
		page, err := retryRead(ctx, s, func() (*dynamodb.ScanOutput, error) {
			return s.client.Scan(ctx, &dynamodb.ScanInput{
				TableName:                s.table,
				ProjectionExpression:     aws.String("#r, #e"),
				ExpressionAttributeNames: map[string]string{"#r": attrResource, "#e": attrExpiresAt},
				ConsistentRead:           aws.Bool(true),
				ExclusiveStartKey:        start,
			})
		})
		if err != nil {
			return nil, wrapRead("scan", "", err)
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
			if g.Value == progressGroup {
				continue
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
func retryRead[T any](ctx context.Context, s *Sink, read func() (T, error)) (T, error) {
	v, _, err := backoff.Retry(ctx, s.backoff, readAttempts, ddb.IsThrottle, func(context.Context) (T, error) { return read() })
	return v, err
}

func wrapRead(op, group string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if group == "" {
		return fmt.Errorf("sink/dynamosink: %s: %w", op, err)
	}
	return fmt.Errorf("sink/dynamosink: %s %q: %w", op, group, err)
}
