package kinesisstream

import (
	"context"
	"slices"

	"github.com/streamtop/streamtop/source"
)

// checkEnd finds out whether a subscription that ended by itself, without
// naming the shard's children, ended because the shard did.
//
// The service ends the subscription of a closed shard after a last event
// that carries ChildShards and no ContinuationSequenceNumber. A subscription
// that ends without them ended for another reason (its 5 minutes, a dropped
// connection), or came from an implementation that never sends them
// (kinesis-local 0.6.2). Either way the shard may be closed and read to its
// end, and a new subscription would then push nothing, ever. So: a listing
// says whether the shard is closed; if it is, a shard iterator from where
// the subscription stopped (resumePosition), and GetRecords on it, say
// whether anything is left. Comparing the last record's sequence number with the shard's
// EndingSequenceNumber would save those calls, but the ending number bounds
// the shard's range and need not be a record's.
//
// It sets r.ended when the shard ended, with the children GetRecords named
// or, failing that, those the listing shows. Records GetRecords finds (the
// subscription ended before it pushed them) go to r.buf, in order, and the
// next subscription starts after them.
func (r *fanOutReader) checkEnd(ctx context.Context) error {
	shards, err := r.stream.Shards(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(shards, func(sh source.Shard) bool { return sh.ID == r.shardID })
	if i < 0 || !shards[i].Closed() {
		return nil
	}
	c := r.conv
	it, err := c.iterator(ctx, r.resumePosition())
	if err != nil {
		return err
	}
	c.iter, c.limit = it, MaxGetRecords
	// A closed shard read to its end answers with no records and no next
	// iterator; the bound is for a service that makes a reader step over
	// empty responses first, where resubscribing is as good.
	for tries := 0; !c.ended && tries < 3; tries++ {
		recs, behind, err := c.fetch(ctx)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			r.buf, r.behind = append(r.buf, recs...), behind
			break
		}
	}
	if !c.ended {
		return nil
	}
	if len(c.children) == 0 {
		for _, sh := range shards {
			if sh.ParentID == r.shardID || sh.AdjacentParentID == r.shardID {
				c.children = append(c.children, sh)
			}
		}
	}
	r.ended = true
	return nil
}
