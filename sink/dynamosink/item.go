package dynamosink

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/ddb"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

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
	attrFloor     = "floor"
	attrExpiresAt = "expiresAt"

	// partialPrefix starts the name of a partial's attribute, followed by
	// its shard ID; the attribute is a map of these three. Its counts are
	// JSON text (see partialEntry), not a list of maps as referrerCounts:
	// a window end's 8 partials of 10 referrers then read 3.4 times as
	// fast from dynalite (12.6 against 43.5 ms for 120 window ends, most
	// of it spent taking the nested maps apart, in dynalite and the SDK),
	// and the item is half the size, which DynamoDB bills reads and every
	// partial's write by.
	partialPrefix   = "p#"
	attrPartCounts  = "counts"
	attrPartFloor   = "floor"
	attrPartHost    = "host"
	maxShardIDBytes = 255 - len(partialPrefix) // DynamoDB's limit on a name in an expression
)

// timeLayout sorts as text in time order for years 1 to 9999.
const timeLayout = "2006-01-02T15:04:05.000Z"

// timeKey is the range key for t: UTC, truncated to the millisecond.
func timeKey(t time.Time) string { return t.UTC().Format(timeLayout) }

// maxGroupBytes is DynamoDB's limit on a hash key.
const maxGroupBytes = 2048

func validate(s sink.Snapshot) error {
	switch {
	case s.Group == "":
		return fmt.Errorf("%w: empty group", sink.ErrInvalidSnapshot)
	case len(s.Group) > maxGroupBytes:
		return fmt.Errorf("%w: group of %d bytes, more than DynamoDB's %d", sink.ErrInvalidSnapshot, len(s.Group), maxGroupBytes)
	case s.Group == progressGroup:
		return fmt.Errorf("%w: group %q is where the sink keeps shard progress", sink.ErrInvalidSnapshot, s.Group)
	case s.Time.IsZero():
		return fmt.Errorf("%w: group %q: zero time", sink.ErrInvalidSnapshot, s.Group)
	case s.Time.UTC().Year() < 1 || s.Time.UTC().Year() > 9999:
		return fmt.Errorf("%w: group %q: time %v outside years 1 to 9999", sink.ErrInvalidSnapshot, s.Group, s.Time)
	case s.Window < 0:
		return fmt.Errorf("%w: group %q: negative window %v", sink.ErrInvalidSnapshot, s.Group, s.Window)
	case s.Floor < 0:
		return fmt.Errorf("%w: group %q: negative floor %d", sink.ErrInvalidSnapshot, s.Group, s.Floor)
	}
	if err := validShard(s.Shard); err != nil {
		return fmt.Errorf("%w: group %q: %v", sink.ErrInvalidSnapshot, s.Group, err)
	}
	return nil
}

// validShard refuses a shard ID that cannot be part of an attribute name.
// The empty ID (a whole snapshot) is valid.
func validShard(id string) error {
	switch {
	case len(id) > maxShardIDBytes:
		return fmt.Errorf("shard ID of %d bytes, more than %d", len(id), maxShardIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("shard ID %q is not UTF-8", id)
	}
	return nil
}

// snapshotAttrs returns what writing snap sets on its item (besides the
// key), and the attributes the write removes: a whole snapshot sets the
// sample's attributes, a partial its own p#<shard>, and both the item's
// window and expiry. Attributes of other snapshots of the item are left
// alone, so partials of several shards, and a whole snapshot, share it.
func (s *Sink) snapshotAttrs(snap sink.Snapshot) (set map[string]types.AttributeValue, remove []string, err error) {
	set = map[string]types.AttributeValue{
		attrWindow:    ddb.Num(snap.Window.Milliseconds()),
		attrExpiresAt: ddb.Num(snap.Time.Add(s.ttl).Unix()),
	}
	if snap.Shard != "" {
		counts, err := encodePartialCounts(snap.Counts)
		if err != nil {
			return nil, nil, err
		}
		part := map[string]types.AttributeValue{
			attrPartCounts: &types.AttributeValueMemberS{Value: counts},
			attrPartFloor:  ddb.Num(snap.Floor),
		}
		if snap.Host != "" {
			part[attrPartHost] = &types.AttributeValueMemberS{Value: snap.Host}
		}
		set[partialPrefix+snap.Shard] = &types.AttributeValueMemberM{Value: part}
		return set, nil, nil
	}
	set[attrCounts] = encodeCounts(snap.Counts)
	if snap.Host != "" {
		set[attrHost] = &types.AttributeValueMemberS{Value: snap.Host}
	} else {
		remove = append(remove, attrHost)
	}
	if snap.Floor != 0 {
		set[attrFloor] = ddb.Num(snap.Floor)
	} else {
		remove = append(remove, attrFloor)
	}
	return set, remove, nil
}

func encodeCounts(counts []topk.Entry[string]) types.AttributeValue {
	l := make([]types.AttributeValue, len(counts))
	for i, e := range counts {
		m := map[string]types.AttributeValue{
			attrReferrer: &types.AttributeValueMemberS{Value: e.Key},
			attrCount:    ddb.Num(e.Count),
		}
		if e.Err != 0 {
			m[attrErr] = ddb.Num(e.Err)
		}
		l[i] = &types.AttributeValueMemberM{Value: m}
	}
	return &types.AttributeValueMemberL{Value: l}
}

// decodeItem appends the snapshots one counts item holds to dst: its whole
// snapshot, if it has one, then its partials, in no particular order. An
// item holds a whole snapshot when it has referrerCounts, or when it has no
// partial at all (as the original sample wrote them, sometimes without
// counts). It also returns the item's expiry time, zero for an item written
// without one (by another tool), which never expires. Attributes it does
// not know are ignored; a known one of the wrong shape is an error that
// names the item and the attribute. On an error dst is returned as given.
func decodeItem(dst []sink.Snapshot, item map[string]types.AttributeValue) ([]sink.Snapshot, time.Time, error) {
	g, ok := item[attrResource].(*types.AttributeValueMemberS)
	if !ok {
		return dst, time.Time{}, fmt.Errorf("sink/dynamosink: item without a string %s", attrResource)
	}
	ts, ok := item[attrTimestamp].(*types.AttributeValueMemberS)
	if !ok {
		return dst, time.Time{}, fmt.Errorf("sink/dynamosink: item of group %q without a string %s", g.Value, attrTimestamp)
	}
	fail := func(attr string, err error) ([]sink.Snapshot, time.Time, error) {
		return dst, time.Time{}, fmt.Errorf("sink/dynamosink: item (%q, %q): %s: %w", g.Value, ts.Value, attr, err)
	}
	at, err := time.Parse(timeLayout, ts.Value)
	if err != nil {
		return fail(attrTimestamp, err)
	}
	window, err := ddb.GetN(item, attrWindow)
	if err != nil {
		return fail(attrWindow, err)
	}
	// A window past what a Duration holds would wrap around to a
	// nonsense (even negative) length.
	if window < 0 || window > math.MaxInt64/int64(time.Millisecond) {
		return fail(attrWindow, fmt.Errorf("%d out of range", window))
	}
	expires, err := ddb.GetN(item, attrExpiresAt)
	if err != nil {
		return fail(attrExpiresAt, err)
	}
	base := sink.Snapshot{Group: g.Value, Time: at, Window: time.Duration(window) * time.Millisecond}
	// What the Sink would refuse to write (an empty group, year 0) is not a
	// snapshot to hand to a reader either.
	if err := validate(base); err != nil {
		return fail(attrResource, err)
	}
	out := dst
	partials := 0
	for name, v := range item {
		shard, ok := strings.CutPrefix(name, partialPrefix)
		if !ok {
			continue
		}
		if shard == "" {
			return fail(fmt.Sprintf("%q", name), errors.New("a partial without a shard ID"))
		}
		if err := validShard(shard); err != nil {
			return fail(fmt.Sprintf("%q", name), err)
		}
		snap := base
		snap.Shard = shard
		if err := decodePartial(&snap, v); err != nil {
			return fail(fmt.Sprintf("%q", name), err)
		}
		out = append(out, snap)
		partials++
	}
	if _, whole := item[attrCounts]; whole || partials == 0 {
		snap := base
		if snap.Counts, err = decodeCounts(item[attrCounts]); err != nil {
			return fail(attrCounts, err)
		}
		switch h := item[attrHost].(type) {
		case nil:
		case *types.AttributeValueMemberS:
			snap.Host = h.Value
		default:
			return fail(attrHost, fmt.Errorf("has type %T, want a string", h))
		}
		if snap.Floor, err = decodeFloor(item, attrFloor); err != nil {
			return fail(attrFloor, err)
		}
		out = append(out, snap)
	}
	if _, ok := item[attrExpiresAt]; !ok {
		return out, time.Time{}, nil
	}
	return out, time.Unix(expires, 0), nil
}

// decodePartial fills in snap's counts, floor and host from a partial's map.
func decodePartial(snap *sink.Snapshot, v types.AttributeValue) error {
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		return fmt.Errorf("has type %T, want a map", v)
	}
	var err error
	switch c := m.Value[attrPartCounts].(type) {
	case nil:
	case *types.AttributeValueMemberS:
		if snap.Counts, err = decodePartialCounts(c.Value); err != nil {
			return fmt.Errorf("%s: %w", attrPartCounts, err)
		}
	default:
		return fmt.Errorf("%s has type %T, want a string", attrPartCounts, c)
	}
	if snap.Floor, err = decodeFloor(m.Value, attrPartFloor); err != nil {
		return err
	}
	switch h := m.Value[attrPartHost].(type) {
	case nil:
	case *types.AttributeValueMemberS:
		snap.Host = h.Value
	default:
		return fmt.Errorf("%s has type %T, want a string", attrPartHost, h)
	}
	return nil
}

func decodeFloor(m map[string]types.AttributeValue, name string) (int64, error) {
	f, err := ddb.GetN(m, name)
	if err == nil && f < 0 {
		err = fmt.Errorf("%s %d is negative", name, f)
	}
	return f, err
}

// decodeCounts reads a list of {referrer, count, err} maps; nil (absent)
// is no counts.
func decodeCounts(v types.AttributeValue) ([]topk.Entry[string], error) {
	switch l := v.(type) {
	case nil:
		return nil, nil
	case *types.AttributeValueMemberL:
		counts := make([]topk.Entry[string], len(l.Value))
		for i, v := range l.Value {
			m, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				return nil, fmt.Errorf("[%d] has type %T, want a map", i, v)
			}
			ref, ok := m.Value[attrReferrer].(*types.AttributeValueMemberS)
			if !ok {
				return nil, fmt.Errorf("[%d] has no string %s", i, attrReferrer)
			}
			e := &counts[i]
			e.Key = ref.Value
			var err error
			if e.Count, err = ddb.GetN(m.Value, attrCount); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if e.Err, err = ddb.GetN(m.Value, attrErr); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return counts, nil
	default:
		return nil, fmt.Errorf("has type %T, want a list", l)
	}
}

// live reports whether an item that expires at expires (zero: never) is
// still to be read at now.
func live(expires, now time.Time) bool { return expires.IsZero() || now.Before(expires) }
